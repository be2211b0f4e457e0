"""Where a proposed model change is opened for review: GitLab merge requests, GitHub pull
requests, or a local bare Git repository (a double for tests and `make loop-demo`).

The forge is chosen by the environment (`forge_from_environment`): `MLOPS_FORGE` = gitlab,
github or local, else GitLab inside GitLab CI (`GITLAB_CI`) and GitHub inside Actions
(`GITHUB_ACTIONS`). The token is the CI variable `MLOPS_FORGE_TOKEN` (masked, protected):
GitLab's CI_JOB_TOKEN may not create merge requests, and on GitHub a pull request opened with
the workflow's GITHUB_TOKEN starts no workflow run, so its checks would never run ("Triggering
a workflow from a workflow", docs.github.com/en/actions/how-tos/write-workflows/
choose-when-workflows-run/trigger-a-workflow).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import requests

REQUEST_TIMEOUT_S = (3.05, 30.0)


class ForgeError(RuntimeError):
    """The forge refused or could not be reached; the branch was pushed, the request not made."""


@dataclass(frozen=True)
class Opening:
    """What to open: a branch proposed into `target`."""

    branch: str
    target: str
    title: str
    description: str
    labels: tuple[str, ...]
    auto_merge: bool
    """Merge once the checks pass (dev, local); False: a reviewer must approve (prod)."""


@dataclass(frozen=True)
class Opened:
    """The merge/pull request the forge made."""

    forge: str
    number: int
    url: str
    auto_merge: bool
    merged: bool = False
    """True only where the forge merged at once (the local double when auto-merging)."""
    details: dict[str, Any] = field(default_factory=dict)


class Forge(Protocol):
    name: str

    def open(self, opening: Opening) -> Opened: ...


class _ApiForge:
    """Opens a request with the first call of `payloads`, then makes the others with what the
    forge answered (`follow_up`)."""

    name: str
    NUMBER: str
    URL: str

    def __init__(self, api_url: str, token_headers: dict[str, str], session=None):
        self.api_url = api_url.rstrip("/")
        self._session = session or requests.Session()
        self._session.headers.update(token_headers)

    def payloads(self, opening: Opening) -> list[tuple[str, str, dict[str, Any]]]:
        raise NotImplementedError

    def follow_up(self, created: dict[str, Any], method: str, path: str, body: dict) -> None:
        raise NotImplementedError

    def open(self, opening: Opening) -> Opened:
        calls = self.payloads(opening)
        method, path, body = calls[0]
        created = _call(self._session, method, self.api_url + path, body)
        for method, path, body in calls[1:]:
            self.follow_up(created, method, path, body)
        return Opened(self.name, created[self.NUMBER], created[self.URL], opening.auto_merge)


class GitLabForge(_ApiForge):
    """Merge Requests API (docs.gitlab.com/api/merge_requests/): `POST /projects/:id/
    merge_requests` with source_branch, target_branch, title, description, labels and
    remove_source_branch; then, for auto-merge, `PUT /projects/:id/merge_requests/:iid/merge`
    with `merge_when_pipeline_succeeds: true` ("Merge a merge request": the merge happens when
    the pipeline succeeds; GitLab 17.11+ also accepts `auto_merge`, the same flag renamed)."""

    name, NUMBER, URL = "gitlab", "iid", "web_url"

    def __init__(self, api_url: str, project: str, token: str, session=None):
        super().__init__(api_url, {"PRIVATE-TOKEN": token}, session)
        self.project = quote(project, safe="")

    def payloads(self, opening: Opening) -> list[tuple[str, str, dict[str, Any]]]:
        """(method, path, JSON body) of each call, in order; the merge path takes the iid."""
        create = {
            "source_branch": opening.branch,
            "target_branch": opening.target,
            "title": opening.title,
            "description": opening.description,
            "labels": ",".join(opening.labels),
            "remove_source_branch": True,
        }
        calls = [("POST", f"/projects/{self.project}/merge_requests", create)]
        if opening.auto_merge:
            merge = {"merge_when_pipeline_succeeds": True, "should_remove_source_branch": True}
            calls.append(("PUT", f"/projects/{self.project}/merge_requests/{{iid}}/merge", merge))
        return calls

    def follow_up(self, created: dict[str, Any], method: str, path: str, body: dict) -> None:
        _call(self._session, method, self.api_url + path.format(iid=created["iid"]), body)


class GitHubForge(_ApiForge):
    """Pulls API (docs.github.com/en/rest/pulls/pulls#create-a-pull-request): `POST /repos/
    {owner}/{repo}/pulls` with title, head, base and body; labels through the Issues API
    (`POST /repos/{owner}/{repo}/issues/{number}/labels`, "labels": [...]); auto-merge has no
    REST endpoint, it is the GraphQL mutation `enablePullRequestAutoMerge(input:
    {pullRequestId, mergeMethod})` on the pull request's `node_id` (docs.github.com/en/graphql/
    reference/mutations#enablepullrequestautomerge), which needs "Allow auto-merge" on the
    repository and a protected base branch with required checks."""

    name, NUMBER, URL = "github", "number", "html_url"
    AUTO_MERGE = (
        "mutation($id: ID!) { enablePullRequestAutoMerge(input: {pullRequestId: $id, "
        "mergeMethod: MERGE}) { pullRequest { number autoMergeRequest { enabledAt } } } }"
    )

    def __init__(self, api_url: str, repository: str, token: str, session=None):
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        super().__init__(api_url, headers, session)
        self.repository = repository

    def payloads(self, opening: Opening) -> list[tuple[str, str, dict[str, Any]]]:
        """(method, path, JSON body) of each call; `{number}` and `{node_id}` come from the
        created pull request."""
        calls = [
            (
                "POST",
                f"/repos/{self.repository}/pulls",
                {
                    "title": opening.title,
                    "head": opening.branch,
                    "base": opening.target,
                    "body": opening.description,
                },
            ),
            (
                "POST",
                f"/repos/{self.repository}/issues/{{number}}/labels",
                {"labels": list(opening.labels)},
            ),
        ]
        if opening.auto_merge:
            body = {"query": self.AUTO_MERGE, "variables": {"id": "{node_id}"}}
            calls.append(("POST", "/graphql", body))
        return calls

    def follow_up(self, created: dict[str, Any], method: str, path: str, body: dict) -> None:
        if path == "/graphql":
            body = {**body, "variables": {"id": created["node_id"]}}
            answer = _call(self._session, method, self.api_url + path, body)
            if answer.get("errors"):
                raise ForgeError(f"GitHub refused auto-merge: {answer['errors']}")
        else:
            _call(self._session, method, self.api_url + path.format(**created), body)


class LocalBareRepoForge:
    """Double of a forge for tests and the demo: the `origin` remote is a local bare repository.
    Each request is recorded as `<bare>/change-requests/<n>.json`; with auto-merge the branch is
    merged into the target at once when the target has not moved since (a fast-forward, as a
    forge's merge of an up-to-date branch), else it stays open, as a forge would ask to rebase."""

    name = "local"

    def __init__(self, bare: Path):
        self.bare = bare

    def requests_made(self) -> list[dict[str, Any]]:
        folder = self.bare / "change-requests"
        files = sorted(folder.glob("*.json"), key=lambda p: int(p.stem))
        return [json.loads(p.read_text()) for p in files]

    def open(self, opening: Opening) -> Opened:
        folder = self.bare / "change-requests"
        folder.mkdir(exist_ok=True)
        number = len(list(folder.glob("*.json"))) + 1
        merged = opening.auto_merge and self._fast_forward(opening.branch, opening.target)
        opened = Opened(self.name, number, f"file://{folder / f'{number}.json'}",
                        opening.auto_merge, merged)  # fmt: skip
        (folder / f"{number}.json").write_text(
            json.dumps({**asdict(opening), "number": number, "merged": merged}, indent=2)
        )
        return opened

    def _fast_forward(self, branch: str, target: str) -> bool:
        git = ["git", "--git-dir", str(self.bare)]
        up_to_date = subprocess.run(
            [*git, "merge-base", "--is-ancestor", f"refs/heads/{target}", f"refs/heads/{branch}"],
            capture_output=True,
        )
        if up_to_date.returncode != 0:
            return False
        subprocess.run(
            [*git, "update-ref", f"refs/heads/{target}", f"refs/heads/{branch}"],
            check=True,
            capture_output=True,
        )
        return True


def forge_from_environment(repo: Path, env: Mapping[str, str] | None = None) -> Forge:
    """The forge of this CI job (see the module docstring), or the local double for `local`."""
    env = os.environ if env is None else env
    kind = env.get("MLOPS_FORGE") or (
        "gitlab" if env.get("GITLAB_CI") else "github" if env.get("GITHUB_ACTIONS") else ""
    )
    if kind == "local":
        url = subprocess.run(
            ["git", "-C", str(repo), "remote", "get-url", "origin"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        return LocalBareRepoForge(Path(url.removeprefix("file://")))
    if kind not in ("gitlab", "github"):
        raise ForgeError(
            "no forge to open the change on: set MLOPS_FORGE to gitlab, github or local "
            f"(got {kind!r})"
        )
    token = env.get("MLOPS_FORGE_TOKEN")
    if not token:
        raise ForgeError(
            f"MLOPS_FORGE_TOKEN is not set: a {kind} token allowed to push branches and open "
            "merge/pull requests, as a masked, protected CI variable (docs/operations.md)"
        )
    if kind == "gitlab":
        return GitLabForge(_required(env, "CI_API_V4_URL"), _required(env, "CI_PROJECT_ID"), token)
    return GitHubForge(
        env.get("GITHUB_API_URL", "https://api.github.com"),
        _required(env, "GITHUB_REPOSITORY"),
        token,
    )


def _required(env: Mapping[str, str], key: str) -> str:
    if not env.get(key):
        raise ForgeError(f"{key} is not set; the forge's CI sets it for every job")
    return env[key]


def _call(session, method: str, url: str, body: dict[str, Any]) -> dict[str, Any]:
    try:
        response = session.request(method, url, json=body, timeout=REQUEST_TIMEOUT_S)
    except requests.RequestException as error:
        raise ForgeError(f"{method} {url}: {error}") from None
    if response.status_code >= 300:
        raise ForgeError(f"{method} {url} answered {response.status_code}: {response.text[:300]}")
    return response.json()
