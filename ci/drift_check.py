"""Does the cluster still match Git? Reads `pulumi preview --expect-no-changes --json` (run
after `pulumi refresh`, `make drift-check`) and fails naming every resource that differs.

The JSON is Pulumi's preview digest (pulumi/pulumi `pkg/backend/display/json.go`,
`ShowPreviewDigest`): `steps[]` with `op` (a `deploy.StepOp`: same, create, update, delete,
replace, create-replacement, delete-replaced, read, refresh, ...), `urn`, `diffReasons` and
`replaceReasons` (the differing property keys), `diagnostics[]` with `severity` and `message`,
and `changeSummary` (op -> count). Steps with op `same` are left out of the digest unless
asked for; a `read` changes nothing. An error diagnostic (the program failed) is a failure too,
since a preview that did not run proves nothing.

Exit 0: no difference. Exit 1: differences or errors, each on its own line. Exit 2: the file is
not a preview digest.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

UNCHANGED = {"same", "read"}


class NotADigest(ValueError):
    """The input is not `pulumi preview --json` output."""


@dataclass(frozen=True)
class Difference:
    op: str
    type: str
    name: str
    properties: tuple[str, ...]

    def line(self) -> str:
        keys = f" ({', '.join(self.properties)})" if self.properties else ""
        return f"{self.op}: {self.type} {self.name}{keys}"


def resource_of(urn: str) -> tuple[str, str]:
    """(type, name) of 'urn:pulumi:<stack>::<project>::<parent$type>::<name>'."""
    parts = urn.split("::")
    if len(parts) < 4 or not parts[0].startswith("urn:pulumi:"):
        raise NotADigest(f"not a Pulumi URN: {urn!r}")
    return parts[2].rsplit("$", 1)[-1], "::".join(parts[3:])


def parse(text: str) -> tuple[list[Difference], list[str]]:
    """The differing resources and the error diagnostics of a preview digest."""
    try:
        digest = json.loads(text)
    except json.JSONDecodeError as error:
        raise NotADigest(f"not JSON ({error}); was `pulumi preview --json` run?") from None
    if not isinstance(digest, dict) or not isinstance(digest.get("steps", []), list):
        raise NotADigest("no `steps` list: not a `pulumi preview --json` digest")
    differences = []
    for step in digest.get("steps", []):
        if step.get("op") in UNCHANGED:
            continue
        kind, name = resource_of(step["urn"])
        if (
            kind == "pulumi:pulumi:Stack"
            and step.get("op") == "update"
            and not step.get("diffReasons")
        ):
            continue  # the root stack shows as an update whenever anything under it changes
        keys = tuple(step.get("replaceReasons") or step.get("diffReasons") or ())
        differences.append(Difference(step["op"], kind, name, keys))
    errors = [
        d.get("message", "").strip()
        for d in digest.get("diagnostics", [])
        if d.get("severity") == "error"
    ]
    return differences, errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True)
    parser.add_argument("preview_json", type=Path, help="output of `pulumi preview --json`")
    args = parser.parse_args(argv)
    try:
        differences, errors = parse(args.preview_json.read_text())
    except (OSError, NotADigest) as error:
        print(f"drift-check {args.stack}: {error}", file=sys.stderr)
        return 2
    for message in errors:
        print(f"drift-check {args.stack}: preview error: {message}", file=sys.stderr)
    if differences:
        print(f"drift-check {args.stack}: the cluster differs from Git in "
              f"{len(differences)} resource(s):", file=sys.stderr)  # fmt: skip
        for difference in differences:
            print(f"  {difference.line()}", file=sys.stderr)
    if differences or errors:
        return 1
    print(f"drift-check {args.stack}: the cluster matches Git")
    return 0


if __name__ == "__main__":
    sys.exit(main())
