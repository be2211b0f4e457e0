"""Post a Markdown file as a note on the merge request of the running GitLab pipeline.

Reads GitLab's predefined CI variables (CI_API_V4_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID) and
GITLAB_NOTE_TOKEN, a project access token with the `api` scope and the Reporter role, stored as a
masked CI/CD variable (the job token cannot write notes).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

REQUIRED = ("CI_API_V4_URL", "CI_PROJECT_ID", "CI_MERGE_REQUEST_IID", "GITLAB_NOTE_TOKEN")


def notes_url(api: str, project: str, merge_request: str) -> str:
    """The REST endpoint of the merge request's notes."""
    project_id = urllib.parse.quote(project, safe="")
    return f"{api.rstrip('/')}/projects/{project_id}/merge_requests/{merge_request}/notes"


def post_note(url: str, token: str, body: str) -> int:
    """Create the note; return its id."""
    request = urllib.request.Request(
        url,
        data=json.dumps({"body": body}).encode(),
        headers={"PRIVATE-TOKEN": token, "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["id"]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: ci/gitlab_note.py <markdown-file>", file=sys.stderr)
        return 2
    missing = [name for name in REQUIRED if not os.environ.get(name)]
    if missing:
        print(
            f"gitlab-note: {', '.join(missing)} not set; run in a merge-request pipeline with "
            "GITLAB_NOTE_TOKEN defined as a masked CI/CD variable",
            file=sys.stderr,
        )
        return 1
    try:
        body = Path(args[0]).read_text()
    except OSError as error:
        print(f"gitlab-note: cannot read {args[0]}: {error.strerror}", file=sys.stderr)
        return 1
    url = notes_url(
        os.environ["CI_API_V4_URL"], os.environ["CI_PROJECT_ID"], os.environ["CI_MERGE_REQUEST_IID"]
    )
    try:
        note_id = post_note(url, os.environ["GITLAB_NOTE_TOKEN"], body)
    except urllib.error.HTTPError as error:
        reason = f"{error.code} {error.reason}"
        print(f"gitlab-note: GitLab refused the note ({reason})", file=sys.stderr)
        return 1
    except urllib.error.URLError as error:
        print(f"gitlab-note: cannot reach {url}: {error.reason}", file=sys.stderr)
        return 1
    print(f"gitlab-note: posted note {note_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
