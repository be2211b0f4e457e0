"""Review comment for one stack: the `pulumi preview --diff` output and the offline render diff.

Writes Markdown on stdout for `gh pr comment --body-file` or `ci/gitlab_note.py`. Terminal colour
codes are stripped and the preview is cut to fit a comment (GitHub refuses bodies over 65,536
characters), saying so where it was cut.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
COMMENT_LIMIT = 60_000
PREVIEW_BLOCK = (
    "<details><summary>pulumi preview --diff</summary>\n\n```diff\n{}\n```\n</details>\n"
)
TRUNCATION_NOTE = "\n... (cut to fit the comment; the job log and artifact have all of it)"


def plain(text: str) -> str:
    """Text without terminal colour and cursor escape codes."""
    return ANSI_ESCAPE.sub("", text)


def fit(text: str, budget: int) -> str:
    """`text`, or its first lines plus a note when it is longer than `budget` characters."""
    if len(text) <= budget:
        return text
    kept = text[: max(budget - len(TRUNCATION_NOTE), 0)]
    return kept[: kept.rfind("\n") + 1] + TRUNCATION_NOTE


def closed_fences(markdown: str) -> str:
    """Markdown whose last code fence is closed (a cut may have left it open)."""
    return markdown + "\n```" if markdown.count("```") % 2 else markdown


def compose(stack: str, preview: str, render_diff: str) -> str:
    """The Markdown body: the render diff first, the preview in a collapsible block."""
    heading = f"## Stack `{stack}`\n\n"
    render_part = closed_fences(fit(render_diff.rstrip("\n"), COMMENT_LIMIT // 2)) + "\n\n"
    budget = COMMENT_LIMIT - len(heading) - len(render_part) - len(PREVIEW_BLOCK)
    preview_part = PREVIEW_BLOCK.format(fit(plain(preview).rstrip("\n"), budget))
    return heading + render_part + preview_part


def read(path: Path, what: str) -> str:
    """The file's text, or exit with a message naming the missing input."""
    try:
        return path.read_text(errors="replace")
    except OSError as error:
        sys.exit(f"review-comment: cannot read the {what} file {path}: {error.strerror}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="stack name, e.g. dev or prod")
    parser.add_argument("--preview", required=True, type=Path, help="saved `make preview` output")
    parser.add_argument("--render-diff", required=True, type=Path, help="`make render-diff` output")
    args = parser.parse_args(argv)
    preview = read(args.preview, "preview output")
    render_diff = read(args.render_diff, "render diff")
    sys.stdout.write(compose(args.stack, preview, render_diff))
    return 0


if __name__ == "__main__":
    sys.exit(main())
