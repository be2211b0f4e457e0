"""`python -m stacks.rollout`: one step of every declared progressive rollout of a stack.

For each deployment of the stack file with a `rollout:` plan, it reads the A/B evidence since the
rollout began (Prometheus, or a recorded evidence file), applies the sequential rule of
`analysis.decision` and the step logic of `analysis.rollout`, and acts:
- `advance`: the challenger's traffic goes to the next step, the baseline gets the rest;
- `rollback` / `keep`: the challenger's traffic goes to 0;
- `promote` (last step): the registry's `champion` alias moves to the challenger's version
  (`model.promotion.promote`, promotion ledger), the pins that follow `champion` move with it
  and the predictor that serves it afterwards gets all the live traffic.
The tool never edits the checkout or applies anything: each action is proposed as a reviewed
change (`release.change_request.propose`: one commit on its own branch with the A/B decision as
evidence, a merge/pull request on the forge of MLOPS_FORGE), with the stack file's `traffic:`
values and the pins changed and validated by the real `StackConfig` first. The merge deploys
it through the deploy job; until then the next run waits. Each proposal is written to the
rollout ledger (`stacks.rollout_ledger`) with its request. Evidence whose counts contradict
each other (`analysis.consistency`) is refused before any action: exit 1, nothing proposed or
recorded.
This lives in `stacks/` because validating the stack file imports `infra/`; `python -m model
abtest` only decides and imports neither.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from analysis import promql
from analysis.champion_guard import Baseline
from analysis.decision import Decision, Policy, decide_sequence
from analysis.evidence import Arms, read_evidence_file
from analysis.policy_options import add_policy_arguments, policy_from
from analysis.prometheus import read_look
from analysis.rollout import Action, Plan, Step, next_step
from analysis.shadow import read_screening
from model.abtest_command import timestamp
from model.console import emit
from model.conventions import CANDIDATE, CHALLENGER, CHAMPION
from model.errors import ConfigurationError, LifecycleError

if TYPE_CHECKING:
    # MLflow, the registry and the forge load only when a run starts: `--help` and the stack
    # checks stay fast and Pulumi-free (tests/stacks/test_pulumi_free.py).
    from model.store import Store
    from release.forges import Forge
    from stacks.rollout_ledger import RolloutRecord

STARTS = ("start", "advance")
PROMOTE_WHEN = {"better": "better", "notWorse": "not-worse"}
"""`rollout.promoteWhen` of the stack file -> the decision rule's `promote_when`."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m stacks.rollout",
        description="Advance, roll back or promote each declared rollout of a stack by one step.",
    )
    parser.add_argument("--stack-file", type=Path, required=True, help="Pulumi.<stack>.yaml")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--prometheus-url", help="e.g. http://localhost:9090")
    source.add_argument("--evidence", type=Path, help="recorded evidence (needs --deployment)")
    parser.add_argument(
        "--deployment", action="append", help="only these deployments (default: all with rollout)"
    )
    parser.add_argument("--challenger", default="challenger", help="predictor (%(default)s)")
    parser.add_argument("--tracking-uri", help="MLflow tracking/registry URI")
    parser.add_argument("--actor", help="who acts (default: the login name)")
    parser.add_argument("--now", type=timestamp, help="time of this run (default: now)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_policy_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        steps = run(args)
    except LifecycleError as error:
        print(f"error: {error}", file=sys.stderr)
        if args.json:
            emit(True, {"error": {"type": type(error).__name__, "message": str(error)}}, "")
        return 1
    text = "\n".join(_line(step) for step in steps) or "no deployment declares a rollout plan"
    emit(args.json, {"rollouts": steps}, text)
    return 0


def run(args: argparse.Namespace, forge: Forge | None = None) -> list[dict]:
    """One step for each selected deployment with a rollout plan; the results in order. Each
    action is proposed on `forge` (default: the forge of the environment)."""
    from model.store import Store
    from stacks.stack_edit import validated

    config = validated(args.stack_file)
    selected = [
        d
        for d in config.deployments
        if d.rollout is not None and (not args.deployment or d.name in args.deployment)
    ]
    if args.evidence is not None and len(selected) != 1:
        raise ConfigurationError("--evidence is one deployment's: name it with --deployment")
    if args.deployment and not selected:
        raise ConfigurationError(
            f"{args.stack_file}: no deployment with a rollout plan among {args.deployment}"
        )
    now = args.now if args.now is not None else time.time()
    store = Store.open(args.tracking_uri)
    return [_roll(args, deployment, store, now, forge) for deployment in selected]


def _roll(args, deployment, store: Store, now: float, forge: Forge | None) -> dict:
    from model.promotion import promote
    from release.change_request import NoChange, TrafficChange, propose
    from release.pinning import following, registered_pin, stack_name
    from stacks.rollout_ledger import history, record
    from stacks.stack_edit import deployable

    live = [p for p in deployment.predictors if not p.shadow]
    where = f"{args.stack_file}: deployment {deployment.namespace}/{deployment.name}"
    challenger = next((p for p in live if p.name == args.challenger), None)
    others = [p for p in live if p.name != args.challenger]
    if challenger is None or len(others) != 1:
        raise ConfigurationError(
            f"{where}: a rollout needs the challenger {args.challenger!r} and one other live "
            f"predictor; it has {[p.name for p in live]}"
        )
    baseline = others[0]
    plan = Plan(
        tuple(deployment.rollout.steps),
        promql.duration_seconds(deployment.rollout.min_step_duration),
    )
    policy = _policy(args, deployment)
    ledger = history(store, deployment.namespace, deployment.name, challenger.name)
    result = {
        "deployment": deployment.name,
        "namespace": deployment.namespace,
        "challenger": challenger.name,
        "model": challenger.model,
    }
    current = ledger[-1] if ledger else None
    proposed = _unmerged(current, challenger)
    if proposed is not None:
        return {**result, "action": Action.WAIT.value, "traffic": challenger.traffic,
                "reason": proposed}  # fmt: skip
    if not challenger.traffic:
        return _expose(args, deployment, baseline, challenger, plan, now, result, forge)
    if challenger.traffic not in plan.steps:
        raise ConfigurationError(
            f"{where}: the challenger's traffic {challenger.traffic} is not a step of the "
            f"rollout plan {list(plan.steps)}; set it to {plan.steps[0]} to start the rollout"
        )
    if (
        current is None
        or current.action not in STARTS
        or current.traffic != challenger.traffic
        or current.model != challenger.model
    ):
        started = _entry(args, deployment, challenger, "start", challenger.traffic, now, "", {})
        record(store, started)
        return {**result, "action": "start", "traffic": challenger.traffic,
                "reason": f"rollout recorded as started at {challenger.traffic}%"}  # fmt: skip
    since = _experiment_start(ledger)
    looks = (
        read_evidence_file(args.evidence)
        if args.evidence is not None
        else [
            read_look(
                args.prometheus_url,
                promql.Scope(deployment.namespace, deployment.name),
                since,
                now,
                tuple(p.name for p in deployment.predictors if p.shadow),
            )
        ]
    )
    decision = decide_sequence(looks, Arms(baseline.name, challenger.name), policy)
    step = next_step(plan, challenger.traffic, now - current.recorded_at.timestamp(), decision)
    result.update(action=step.action.value, traffic=step.traffic, reason=step.reason,
                  decision=decision.as_dict())  # fmt: skip
    if step.action is Action.WAIT:
        return result
    split = _split(step, baseline, challenger)
    evidence = {
        "decision": _summary(decision),
        "traffic": split,
        "stack_file": str(args.stack_file),
    }
    key = f"{deployment.namespace}/{deployment.name}"
    changes: list = [TrafficChange(key, split)]
    kind = "rollout"
    if step.action is Action.PROMOTE:
        name, version = _model_version(challenger.model, args.tracking_uri)
        # The champion guard holds the new champion to what it showed here (stacks/guard.py).
        baseline = Baseline.of(looks[-1].predictors[challenger.name]).as_dict()
        promotion = promote(
            name, version, tracking_uri=args.tracking_uri, actor=args.actor,
            reason=f"rollout of {deployment.name}: {step.reason}",
            evidence={**evidence, "baseline": baseline},
        )  # fmt: skip
        result["promotion"] = promotion.as_dict()
        pin = registered_pin(store, name, str(promotion.to_version), CHAMPION)
        changes += following(args.stack_file, pin)
        kind = "promotion"
    title = f"{key}: rollout {step.action.value}, {args.challenger} at {split[challenger.name]}%"
    result["split"] = split
    try:
        request = propose(
            stack_name(args.stack_file), changes, title,
            {**evidence, **({"promotion": result["promotion"]} if "promotion" in result else {})},
            kind=kind, repo=args.stack_file.resolve().parent, forge=forge, check=deployable,
        )  # fmt: skip
    except NoChange:
        result["change_request"] = None  # e.g. a promotion of predictors pinned by number
    else:
        result["change_request"] = evidence["change_request"] = request.as_dict()
        evidence["proposed_traffic"] = split[challenger.name]
    record(store, _entry(args, deployment, challenger, step.action.value, step.traffic, now,
                         step.reason, evidence))  # fmt: skip
    return result


def _unmerged(current: RolloutRecord | None, challenger) -> str | None:
    """Why to wait when the latest action's change request has not reached the stack file."""
    if current is None or "proposed_traffic" not in current.evidence:
        return None
    if (
        current.model != challenger.model
        or current.evidence["proposed_traffic"] == challenger.traffic
    ):
        return None
    url = current.evidence["change_request"]["request"]["url"]
    return (
        f"the {current.action} proposed at {current.recorded_at:%Y-%m-%d %H:%M} UTC ({url}) is "
        f"not merged yet: the stack file still gives {challenger.name} {challenger.traffic}%"
    )


def _expose(args, deployment, baseline, challenger, plan, now: float, result: dict, forge) -> dict:
    """No rollout in progress: start one with a new candidate, if its shadow screening passed.

    The candidate is new when the registry's `candidate` is neither the challenger's nor the
    baseline's version. The shadow's disagreement with the champion over the last
    `minStepDuration` must be within `guardrails.maxShadowDisagreement` on at least
    `--min-samples` rows; then `challenger` moves to it (ledger `expose`) and a reviewed change
    pins the challenger to it at the plan's first step. Otherwise nothing changes and the
    reason is reported."""
    from model.promotion import expose
    from model.store import Store
    from release.change_request import TrafficChange, propose
    from release.pinning import following, registered_pin, stack_name
    from stacks.stack_edit import deployable

    idle = {**result, "action": Action.WAIT.value, "traffic": 0}
    shadow = next((p for p in deployment.predictors if p.shadow), None)
    if shadow is None or challenger.alias != CHALLENGER:
        return {**idle, "reason": "no rollout in progress (exposure needs a shadow and a "
                f"challenger following '@{CHALLENGER}')"}  # fmt: skip
    name = challenger.registered_model
    candidate = _alias_version(f"{name}@{CANDIDATE}", args.tracking_uri)
    live = {_alias_version(p.model, args.tracking_uri) for p in (baseline, challenger)}
    if candidate is None or candidate in live:
        return {
            **idle,
            "reason": f"no new candidate: {name}@{CANDIDATE} is "
            f"{candidate or 'unset'}, the live versions {sorted(v or '-' for v in live)}",
        }
    if args.prometheus_url is None:
        return {**idle, "reason": "exposure is screened from Prometheus: pass --prometheus-url"}
    screening = read_screening(
        args.prometheus_url,
        promql.Scope(deployment.namespace, deployment.name),
        shadow.name,
        deployment.rollout.min_step_duration,
        now,
        bound=deployment.rollout.guardrails.max_shadow_disagreement,
        minimum_rows=args.minimum_samples,
    )
    screened = {**result, "candidate": candidate, "screening": screening.as_dict()}
    if not screening.passed:
        return {**screened, "action": "refused", "traffic": 0, "reason": screening.reason}
    first = plan.steps[0]
    split = {challenger.name: first, baseline.name: 100 - first}
    exposed = expose(name, tracking_uri=args.tracking_uri, actor=args.actor,
                     reason=f"rollout of {deployment.name}: {screening.reason}",
                     evidence={"screening": screening.as_dict(), "traffic": split})  # fmt: skip
    screened["exposure"] = exposed.as_dict()
    key = f"{deployment.namespace}/{deployment.name}"
    pin = registered_pin(Store.open(args.tracking_uri), name, candidate, CHALLENGER)
    request = propose(
        stack_name(args.stack_file),
        [TrafficChange(key, split), *following(args.stack_file, pin)],
        f"{key}: expose candidate {name} version {candidate} as {challenger.name} at {first}%",
        {"screening": screening.as_dict(), "exposure": exposed.as_dict(), "traffic": split},
        kind="rollout", repo=args.stack_file.resolve().parent, forge=forge, check=deployable,
    )  # fmt: skip
    return {**screened, "action": "expose", "traffic": first, "split": split,
            "change_request": request.as_dict(), "reason": screening.reason}  # fmt: skip


def _alias_version(reference: str, tracking_uri: str | None) -> str | None:
    """The version a stack reference serves, None when its alias points nowhere yet."""
    try:
        return _model_version(reference, tracking_uri)[1]
    except LifecycleError:
        return None


def _policy(args: argparse.Namespace, deployment) -> Policy:
    """The command's rule options, with the deployment's own rollout guardrails and monitoring
    settings."""
    rollout = deployment.rollout
    margin = {} if rollout.margin is None else {"margin": rollout.margin}
    guardrails = rollout.guardrails
    latency = (
        {}
        if guardrails.latency_tolerance is None
        else {"latency_tolerance": guardrails.latency_tolerance}
    )
    return policy_from(
        args,
        max_error_ratio=guardrails.max_error_ratio or deployment.monitoring.error_ratio_threshold,
        promote_when=PROMOTE_WHEN[rollout.promote_when],
        **latency,
        **margin,
    )


def _split(step: Step, baseline, challenger) -> dict[str, int]:
    """The live predictors' traffic after `step`; on promote, all of it to the predictor that
    serves the promoted version: the baseline when it follows the champion alias."""
    if step.action is Action.PROMOTE:
        follows_alias = baseline.model == f"{baseline.registered_model}@{CHAMPION}"
        winner = baseline.name if follows_alias else challenger.name
        return {p.name: 100 if p.name == winner else 0 for p in (baseline, challenger)}
    return {challenger.name: step.traffic, baseline.name: 100 - step.traffic}


def _experiment_start(ledger: list[RolloutRecord]) -> float:
    for entry in reversed(ledger):
        if entry.action == "start":
            return entry.recorded_at.timestamp()
    return ledger[0].recorded_at.timestamp()


def _entry(args, deployment, challenger, action, traffic, now, reason, evidence) -> RolloutRecord:
    from stacks.rollout_ledger import RolloutRecord, login_name

    return RolloutRecord(
        deployment=deployment.name,
        namespace=deployment.namespace,
        challenger=challenger.name,
        model=challenger.model,
        action=action,
        traffic=traffic,
        recorded_at=datetime.fromtimestamp(now, UTC),
        actor=args.actor or login_name(),
        reason=reason,
        evidence=evidence,
    )


def _summary(decision: Decision) -> dict:
    full = decision.as_dict()
    return {key: full[key] for key in ("decision", "look", "at", "p_value", "difference", "reason")}


def _model_version(reference: str, tracking_uri: str | None) -> tuple[str, str]:
    """(model name, version) of a stack reference '<name>/<version>' or '<name>@<alias>';
    raises LifecycleError when the alias points nowhere."""
    from model.registry import resolve_version
    from model.store import Store

    if "@" in reference:
        name, alias = reference.split("@", 1)
        return name, resolve_version(Store.open(tracking_uri), name, None, alias)
    name, version = reference.rsplit("/", 1)
    return name, version


def _line(step: dict) -> str:
    head = f"{step['namespace']}/{step['deployment']} {step['challenger']}: {step['action']}"
    return f"{head} -> {step['traffic']}% ({step['reason']})"


if __name__ == "__main__":
    sys.exit(main())
