"""`python -m stacks.guard`: the champion guard, one check of every deployment of a stack.

Once a rollout has ended (the champion predictor takes all live traffic), the champion's last
`--window` of traffic (Prometheus, exact counts as the A/B analysis reads them) is held to the
baseline recorded in the promotion ledger when it was promoted (`evidence.baseline`, written by
`stacks.rollout`): 5xx ratio, p95 latency and feedback success rate (`analysis.champion_guard`).
On a breach it rolls back: the registry's `champion` returns to the previous version through
the signed ledger (`model.promotion.rollback`, refused when that version's gate failed), and the
pin change is proposed as a reviewed change of kind `guard` (`release.change_request.propose`):
merged by itself on a stack whose pins say `merge: auto` (dev), an `urgent` request waiting for
an approval on a protected stack (prod). Exit 0 when every champion holds or was rolled back,
1 on an error (nothing rolled back).
"""

import argparse
import sys
import time
from pathlib import Path

from analysis import promql
from analysis.champion_guard import Baseline, GuardPolicy, judge
from analysis.prometheus import read_look
from model.console import emit
from model.conventions import CHAMPION
from model.errors import LifecycleError
from model.promotion import COMMITTED, history, rollback
from model.registry import alias_version
from model.store import Store
from stacks.stack_edit import validated

STACK_NAME_PREFIX = "Pulumi."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m stacks.guard",
        description="Hold each champion to its recorded baseline; roll back on a breach.",
    )
    parser.add_argument("--stack-file", type=Path, required=True, help="Pulumi.<stack>.yaml")
    parser.add_argument("--prometheus-url", required=True, help="e.g. http://localhost:9090")
    parser.add_argument("--tracking-uri", help="MLflow tracking/registry URI")
    parser.add_argument("--window", default="1h", help="traffic judged, before now (%(default)s)")
    parser.add_argument("--actor", help="who acts (default: the login name)")
    parser.add_argument("--now", type=float, help="Unix time of this check (default: now)")
    parser.add_argument("--dry-run", action="store_true", help="judge, never roll back")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    defaults = GuardPolicy()
    for field, help_text in (
        ("error_ratio_increase", "allowed absolute rise of the 5xx ratio"),
        ("latency_tolerance", "allowed p95 increase as a fraction"),
        ("accuracy_drop", "allowed absolute fall of the feedback success rate"),
    ):
        parser.add_argument(f"--{field.replace('_', '-')}", type=float,
                            default=getattr(defaults, field),
                            help=f"{help_text} (%(default)s)")  # fmt: skip
    parser.add_argument("--min-requests", type=int, default=defaults.min_requests)
    parser.add_argument("--min-feedback", type=int, default=defaults.min_feedback)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        checks = run(args)
    except LifecycleError as error:
        print(f"error: {error}", file=sys.stderr)
        if args.json:
            emit(True, {"error": {"type": type(error).__name__, "message": str(error)}}, "")
        return 1
    text = "\n".join(f"{c['deployment']}: {c['action']} ({c['reason']})" for c in checks)
    emit(args.json, {"guard": checks}, text or "no deployment to guard")
    return 0


def run(args: argparse.Namespace) -> list[dict]:
    config = validated(args.stack_file)
    now = args.now if args.now is not None else time.time()
    policy = GuardPolicy(
        error_ratio_increase=args.error_ratio_increase,
        latency_tolerance=args.latency_tolerance,
        accuracy_drop=args.accuracy_drop,
        min_requests=args.min_requests,
        min_feedback=args.min_feedback,
    )
    return [_guard(args, config, d, policy, now) for d in config.deployments]


def _guard(args, config, deployment, policy: GuardPolicy, now: float) -> dict:
    live = [p for p in deployment.predictors if not p.shadow]
    champion = max(live, key=lambda p: p.weight)
    result = {"deployment": f"{deployment.namespace}/{deployment.name}",
              "predictor": champion.name, "model": champion.model}  # fmt: skip
    if champion.weight != 100:
        return {
            **result,
            "action": "wait",
            "reason": f"a rollout is in progress ({champion.name} has {champion.weight}%)",
        }
    name = champion.registered_model
    store = Store.open(args.tracking_uri)
    version = alias_version(store, name, CHAMPION)
    promoted = [r for r in history(name, tracking_uri=args.tracking_uri)
                if r.state == COMMITTED and r.action == "promote" and r.to_version == version
                and "baseline" in r.evidence]  # fmt: skip
    if not promoted:
        return {
            **result,
            "action": "unguarded",
            "version": version,
            "reason": f"{name} version {version} has no baseline recorded at promotion",
        }
    baseline = Baseline.from_dict(promoted[-1].evidence["baseline"])
    window = promql.duration_seconds(args.window)
    look = read_look(
        args.prometheus_url,
        promql.Scope(deployment.namespace, deployment.name),
        now - window,
        now,
        tuple(p.name for p in deployment.predictors if p.shadow),
    )
    observed = look.predictors.get(champion.name)
    if observed is None:
        return {
            **result,
            "action": "wait",
            "version": version,
            "reason": f"no traffic of {champion.name} in the last {args.window}",
        }
    verdict = judge(baseline, observed, policy)
    result.update(version=version, baseline=baseline.as_dict(), verdict=verdict.as_dict())
    if not verdict.breached:
        return {**result, "action": "hold" if verdict.judged else "wait", "reason": verdict.reason}
    if args.dry_run:
        return {**result, "action": "breach", "reason": verdict.reason}
    record = rollback(name, tracking_uri=args.tracking_uri, actor=args.actor,
                      reason=f"champion guard: {verdict.reason}")  # fmt: skip
    request = _propose_pins(args, config, name, record, verdict.as_dict(), baseline)
    return {**result, "action": "rollback", "reason": verdict.reason,
            "ledger": record.as_dict(), "change_request": request}  # fmt: skip


def _propose_pins(args, config, name: str, record, verdict: dict, baseline: Baseline) -> dict:
    """The pin change back to the previous champion, as a reviewed change of kind `guard`:
    urgent on a protected stack, where it waits for an approval. A stack without a pin file
    (`pins.<stack>.yaml`, release/pins.py) serves the alias itself: nothing in Git changes."""
    stack = args.stack_file.name.removeprefix(STACK_NAME_PREFIX).removesuffix(".yaml")
    if not args.stack_file.with_name(f"pins.{stack}.yaml").is_file():
        return {}
    from release.change_request import propose
    from release.pinning import following, registered_pin

    pin = registered_pin(Store.open(args.tracking_uri), name, record.to_version, CHAMPION)
    changes = following(args.stack_file, pin)
    if not changes:
        return {}
    title = (f"{name}: champion guard rolls back {CHAMPION} "
             f"{record.from_version} -> {record.to_version}")  # fmt: skip
    evidence = {"guard": verdict, "baseline": baseline.as_dict(), "ledger": record.as_dict()}
    request = propose(stack, changes, title, evidence, kind="guard",
                      urgent=config.cluster.protected,
                      repo=args.stack_file.resolve().parent)  # fmt: skip
    return request.as_dict()


if __name__ == "__main__":
    sys.exit(main())
