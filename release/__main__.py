"""`python -m release`: pin a stack's models, and promote or roll back as a reviewed change.

    python -m release pin --stack dev --tracking-uri URI       # (re)write pins.dev.yaml
    python -m release promote --stack dev --model-name iris --reason "..." [--version N]
    python -m release rollback --stack dev --model-name iris --reason "..."
    python -m release follow --stack dev --alias candidate   # a version that passed its gate

`promote` / `rollback` move the registry's `champion` alias through the signed ledger
(model/promotion.py), then propose the pin change of every predictor pinned through
`<model>@champion` (release/change_request.py) on the forge of the environment
(MLOPS_FORGE, docs/operations.md). `follow` proposes, for each model pinned through `--alias`
whose alias the quality gate has moved since (training moves it only on a passed gate), the
pin change with the version's gate verdict as evidence: the scheduled CI job runs it. It follows
an alias only where the registry's signed ledger (MODEL_LEDGER_KEY) shows that move and the
version's passed gate; anything else is refused, named, and proposes nothing (exit 1).
Registry credentials: MLFLOW_TRACKING_USERNAME/_PASSWORD.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from model.console import emit
from model.errors import LifecycleError
from model.registry import alias_version
from model.store import Store
from release.change_request import REPO_ROOT, ChangeError, Kind, propose
from release.forges import ForgeError
from release.pinning import (
    following,
    gate_evidence,
    pinned_lock,
    registered_pin,
    vouched_move,
)
from release.pins import PinError, dump_pins, pin_file_for, read_pins, write_pins
from release.registry import ModelRegistry, RegistryError
from release.stack_refs import stack_setting

CHAMPION = "champion"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m release", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    pin = commands.add_parser("pin", help="write the stack's pin file from the registry")
    promote = commands.add_parser("promote", help="promote, then propose the champion's pins")
    rollback = commands.add_parser("rollback", help="roll back, then propose the champion's pins")
    follow = commands.add_parser("follow", help="propose the pins behind a gate-moved alias")
    for command in (pin, promote, rollback, follow):
        command.add_argument("--stack", required=True, help="stack name, e.g. dev")
        command.add_argument("--stack-file", type=Path, help="default: Pulumi.<stack>.yaml")
        command.add_argument(
            "--tracking-uri",
            default=os.environ.get("MLFLOW_TRACKING_URI"),
            help="the stack's MLflow registry (default: $MLFLOW_TRACKING_URI)",
        )
        command.add_argument("--json", action="store_true", help="print one JSON object")
    pin.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if the registry differs"
    )
    for command in (promote, rollback):
        command.add_argument("--model-name", required=True)
        command.add_argument("--reason", required=True, help="why; goes into the evidence")
        command.add_argument("--actor", help="who acts (default: the login name)")
    promote.add_argument("--version", help="default: the challenger alias's version")
    follow.add_argument(
        "--alias", action="append", required=True, help="an alias the gate moves (repeatable)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    stack_file = args.stack_file or REPO_ROOT / f"Pulumi.{args.stack}.yaml"
    if not stack_file.is_file():
        print(f"error: stack file {stack_file} does not exist", file=sys.stderr)
        return 2
    args.tracking_uri = args.tracking_uri or stack_setting(stack_file, "registryUri")
    if not args.tracking_uri:
        print(
            f"error: no registry: pass --tracking-uri, set MLFLOW_TRACKING_URI or set "
            f"mlops-platform:registryUri in {stack_file}",
            file=sys.stderr,
        )
        return 2
    try:
        if args.command == "pin":
            return _pin(args, stack_file, ModelRegistry.from_environment(args.tracking_uri))
        if args.command == "follow":
            return _follow(args, stack_file)
        return _move(args, stack_file)
    except (PinError, RegistryError, ChangeError, ForgeError, LifecycleError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _pin(args, stack_file: Path, registry: ModelRegistry) -> int:
    lock = pinned_lock(stack_file, registry)
    pin_file = pin_file_for(stack_file)
    current = pin_file.read_text() if pin_file.is_file() else ""
    differs = current != dump_pins(lock)
    if not args.check and differs:
        write_pins(pin_file, lock)
    verb = ("differs from" if differs else "matches") if args.check else "wrote"
    emit(args.json, {"pin_file": str(pin_file), "differs": differs, **lock.model_dump()},
         f"{verb} {pin_file}")  # fmt: skip
    return 1 if args.check and differs else 0


def _move(args, stack_file: Path) -> int:
    from model.promotion import promote, rollback

    kind: Kind = "promotion" if args.command == "promote" else "rollback"
    if kind == "promotion":
        record = promote(args.model_name, args.version, tracking_uri=args.tracking_uri,
                         reason=args.reason, actor=args.actor)  # fmt: skip
    else:
        record = rollback(args.model_name, tracking_uri=args.tracking_uri, reason=args.reason,
                          actor=args.actor)  # fmt: skip
    store = Store.open(args.tracking_uri)
    pin = registered_pin(store, args.model_name, record.to_version, CHAMPION)
    changes = following(stack_file, pin)
    title = f"{args.model_name}: {kind} of {CHAMPION} {record.from_version} -> {record.to_version}"
    if not changes:
        emit(args.json, {"ledger": record.as_dict(), "change_request": None},
             f"{title}: no predictor of stack {args.stack} is pinned through "
             f"{args.model_name}@{CHAMPION}")  # fmt: skip
        return 0
    request = propose(args.stack, changes, title, {"ledger": record.as_dict()}, kind=kind,
                      repo=stack_file.resolve().parent)  # fmt: skip
    emit(args.json, {"ledger": record.as_dict(), "change_request": request.as_dict()},
         f"{title}: {request.opened.url} ({request.branch})")  # fmt: skip
    return 0


def _follow(args, stack_file: Path) -> int:
    """One gate change per model and alias whose pins are behind the registry, for alias moves
    the signed ledger vouches for."""
    store = Store.open(args.tracking_uri)
    lock = read_pins(pin_file_for(stack_file))
    followed = sorted({(p.model, p.alias) for d in lock.deployments.values()
                       for p in d.values() if p.alias in args.alias})  # fmt: skip
    proposed, refused = [], []
    for model, alias in followed:
        version = alias_version(store, model, alias)
        if version is None:
            continue
        changes = following(stack_file, registered_pin(store, model, version, alias))
        if not changes:
            continue
        entry, problem = vouched_move(store, model, alias, version)
        if entry is None:
            print(f"error: not proposed: {problem}", file=sys.stderr)
            refused.append(problem)
            continue
        evidence = gate_evidence(store, model, version, entry)
        title = f"{model}: {alias} -> version {version} (quality gate passed)"
        request = propose(args.stack, changes, title, evidence, kind="gate",
                          repo=stack_file.resolve().parent)  # fmt: skip
        proposed.append(request.as_dict())
    text = "\n".join(f"{r['title']}: {r['request']['url']}" for r in proposed) or "pins follow"
    emit(args.json, {"change_requests": proposed, "refused": refused}, text)
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
