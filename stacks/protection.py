"""The prod guard: `python -m stacks.protection --stack NAME --action up|destroy`.

A stack whose file sets `mlops-platform:protected: true` is deployed only from the shared state
backend (a `file://` backend on a new laptop is a second, empty state: `pulumi up` would create
everything again in the prod cluster), and outside CI only after the operator types the stack
name. `CI=true` (set by GitHub Actions and GitLab CI) skips the prompt; approval there is the
pipeline's own (protected environments). Standard library only, like stacks/preflight.py.
"""

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from stacks.preflight import REPO_ROOT, stack_setting

LOCAL_BACKEND = "file://"


def is_protected(stack_file: Path) -> bool:
    return stack_setting(stack_file, "protected") == "true"


def refusal(
    stack: str,
    action: str,
    env: dict[str, str],
    ask: Callable[[str], str],
    root: Path = REPO_ROOT,
) -> str | None:
    """Why `action` on `stack` must not go ahead, or None when it may."""
    stack_file = root / f"Pulumi.{stack}.yaml"
    if not stack_file.is_file() or not is_protected(stack_file):
        return None
    backend = env.get("PULUMI_BACKEND_URL", "")
    if not backend or backend.startswith(LOCAL_BACKEND):
        return (
            f"stack '{stack}' is protected (mlops-platform:protected in {stack_file.name}) and "
            f"PULUMI_BACKEND_URL is {backend or 'unset'!r}: a local file backend holds a "
            "state of its own, so `pulumi up` would re-create and `pulumi destroy` would miss "
            "what the shared state knows. Point PULUMI_BACKEND_URL at the shared backend "
            "(s3://<bucket>, gs://, azblob:// or https://api.pulumi.com)"
        )
    if env.get("CI") == "true":
        return None
    try:
        answer = ask(f"{action} the protected stack '{stack}' at {backend}? Type '{stack}': ")
    except EOFError:
        answer = ""
    if answer.strip() != stack:
        return (
            f"not confirmed: `make {action} STACK={stack}` needs the stack name typed at the "
            "prompt (or CI=true in a pipeline)"
        )
    return None


def _ask(prompt: str) -> str:
    print(prompt, end="", file=sys.stderr, flush=True)
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stacks.protection", description=__doc__)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--action", required=True, choices=["up", "destroy"])
    args = parser.parse_args(argv)
    reason = refusal(args.stack, args.action, dict(os.environ), _ask)
    if reason:
        print(f"refusing to {args.action} stack '{args.stack}': {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
