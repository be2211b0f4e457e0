"""Review diff of what a change does to the model-facing resources of one stack.

Renders the stack offline (`python -m stacks.render`) at a base git ref and in the work tree
(both from the stack's pin file, so a pin change from a promotion, rollback or rollout step
shows as a version and digest change like any other change), keeps the SeldonDeployments,
Grafana dashboard ConfigMaps and PrometheusRules, and writes a Markdown unified diff fit for a
merge-request or pull-request comment.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

DASHBOARD_LABEL = "grafana_dashboard"
ResourceKey = tuple[str, str, str]


class RenderError(RuntimeError):
    """The offline renderer failed for one side of the diff."""


def is_reviewed(resource: dict) -> bool:
    """True for SeldonDeployments, PrometheusRules and Grafana dashboard ConfigMaps."""
    kind = resource.get("kind")
    if kind in ("SeldonDeployment", "PrometheusRule"):
        return True
    labels = (resource.get("metadata") or {}).get("labels") or {}
    return kind == "ConfigMap" and str(labels.get(DASHBOARD_LABEL)) == "1"


def readable(resource: dict) -> str:
    """YAML with sorted keys; JSON strings (dashboards) expanded so diffs show their lines."""
    data = resource.get("data")
    if isinstance(data, dict):
        expanded = {}
        for name, value in data.items():
            try:
                expanded[name] = json.loads(value) if isinstance(value, str) else value
            except json.JSONDecodeError:
                expanded[name] = value
        resource = {**resource, "data": expanded}
    return yaml.safe_dump(resource, sort_keys=True, default_flow_style=False)


def reviewed_resources(render_dir: Path) -> dict[ResourceKey, str]:
    """Map (kind, namespace, name) to the readable YAML of every reviewed resource in a render."""
    found: dict[ResourceKey, str] = {}
    for path in sorted(render_dir.rglob("*.y*ml")):
        for document in yaml.safe_load_all(path.read_text()):
            if isinstance(document, dict) and is_reviewed(document):
                metadata = document.get("metadata") or {}
                key = (document["kind"], metadata.get("namespace", ""), metadata.get("name", ""))
                found[key] = readable(document)
    return found


def diff_renders(base: dict[ResourceKey, str], head: dict[ResourceKey, str]) -> list[str]:
    """Unified diff lines of every reviewed resource added, removed or changed."""
    lines: list[str] = []
    for key in sorted(base.keys() | head.keys()):
        before, after = base.get(key, ""), head.get(key, "")
        if before == after:
            continue
        label = "/".join(part for part in key if part)
        lines.extend(
            difflib.unified_diff(
                before.splitlines(),
                after.splitlines(),
                fromfile=f"base/{label}" if before else "/dev/null",
                tofile=f"head/{label}" if after else "/dev/null",
                lineterm="",
            )
        )
    return lines


def render(source: Path, stack: str, out: Path) -> None:
    """Run the offline renderer of the checkout in `source` for `stack` into `out`."""
    result = subprocess.run(
        [sys.executable, "-m", "stacks.render", "--stack", stack, "--out", str(out)],
        cwd=source,
        env={**os.environ, "PYTHONPATH": str(source)},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RenderError(f"rendering stack '{stack}' in {source} failed:\n{result.stderr.strip()}")


def render_at_ref(repo: Path, ref: str, stack: str, out: Path) -> None:
    """Render `stack` as it is at git `ref`, in a temporary worktree removed afterwards."""
    tree = out.parent / "base-tree"
    added = subprocess.run(
        ["git", "-C", str(repo), "worktree", "add", "--detach", str(tree), ref],
        capture_output=True,
        text=True,
        check=False,
    )
    if added.returncode != 0:
        raise RenderError(f"cannot check out base ref '{ref}': {added.stderr.strip()}")
    try:
        render(tree, stack, out)
    finally:
        subprocess.run(
            ["git", "-C", str(repo), "worktree", "remove", "--force", str(tree)],
            capture_output=True,
            check=False,
        )


def markdown(stack: str, base_ref: str, lines: list[str]) -> str:
    """The comment body: a heading, a one-line verdict and the diff in a fenced block."""
    heading = f"### Offline render diff, stack `{stack}` (base `{base_ref}`)\n\n"
    if not lines:
        return heading + "No change to SeldonDeployments, dashboards or alert rules.\n"
    body = "\n".join(lines)
    return heading + f"SeldonDeployments, dashboards and alert rules:\n\n```diff\n{body}\n```\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="stack name, e.g. dev or prod")
    parser.add_argument("--base", required=True, help="git ref to compare against")
    parser.add_argument("--out", required=True, type=Path, help="Markdown file to write")
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="repository root")
    args = parser.parse_args(argv)

    repo = args.repo.resolve()
    with tempfile.TemporaryDirectory(prefix="render-diff-") as scratch:
        base_dir, head_dir = Path(scratch, "base"), Path(scratch, "head")
        try:
            render_at_ref(repo, args.base, args.stack, base_dir)
            render(repo, args.stack, head_dir)
        except RenderError as error:
            print(f"render-diff: {error}", file=sys.stderr)
            return 1
        lines = diff_renders(reviewed_resources(base_dir), reviewed_resources(head_dir))
    args.out.write_text(markdown(args.stack, args.base, lines))
    print(f"render-diff: {len(lines)} diff lines written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
