"""`python -m model abtest`: the sequential A/B rule on recorded evidence or on Prometheus.

Decides only; it changes nothing. Evidence whose counts contradict each other is refused
(`analysis.consistency`, exit 1). Acting on a decision (traffic steps, rollback, promotion)
is `python -m stacks.rollout`, which validates the stack file it edits.
"""

import argparse
import time
from datetime import datetime
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from analysis import promql
from analysis.decision import Decision, decide_sequence
from analysis.evidence import choose_arms, read_evidence_file
from analysis.policy_options import add_policy_arguments, policy_from
from analysis.prometheus import read_look
from model.console import emit, table
from model.errors import ConfigurationError


def register(subcommands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the `abtest` subcommand."""
    parser = subcommands.add_parser(
        "abtest",
        parents=[common],
        help="decide an A/B test (always-valid mSPRT) from recorded evidence or Prometheus",
        description="Apply the sequential A/B rule look by look: guardrails (5xx ratio, p95 "
        "latency) once the candidate has the minimum sample, then an always-valid mixture "
        "SPRT on the feedback success rates. Prints promote, keep, rollback or continue.",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--evidence", type=Path, help="evidence file (JSON, cumulative looks)")
    source.add_argument("--prometheus-url", help="e.g. http://localhost:9090")
    add_policy_arguments(parser)
    parser.add_argument("--baseline", help="baseline predictor (default: most requests)")
    parser.add_argument("--candidate", help="candidate predictor (default: the other live one)")
    prometheus = parser.add_argument_group("with --prometheus-url")
    prometheus.add_argument("--deployment", help="SeldonDeployment name")
    prometheus.add_argument("--namespace", default="seldon", help="its namespace (%(default)s)")
    prometheus.add_argument(
        "--shadow", action="append", default=[], help="a shadow predictor to leave out"
    )
    prometheus.add_argument(
        "--since", type=timestamp, help="experiment start, ISO 8601 or Unix seconds"
    )
    prometheus.add_argument(
        "--window", default="24h", help="experiment length up to --at when no --since"
    )
    prometheus.add_argument(
        "--at", type=timestamp, help="time of the look, ISO 8601 or Unix seconds (default: now)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Decide and print the decision."""
    policy = policy_from(args)
    if args.evidence is not None:
        looks = read_evidence_file(args.evidence)
    else:
        if not args.deployment:
            raise ConfigurationError("--prometheus-url needs --deployment NAME")
        at = args.at if args.at is not None else time.time()
        since = args.since if args.since is not None else at - window_seconds(args.window)
        scope = promql.Scope(args.namespace, args.deployment)
        looks = [read_look(args.prometheus_url, scope, since, at, tuple(args.shadow))]
    arms = choose_arms(looks[-1], args.baseline, args.candidate)
    decision = decide_sequence(looks, arms, policy)
    emit(args.json, {**decision.as_dict(), "looks": len(looks)}, describe(decision, len(looks)))
    return 0


def describe(decision: Decision, looks: int) -> str:
    """The decision for people: method, the counts it saw, guardrails and the reason."""
    rows = [
        [
            name,
            counts["requests"],
            counts["errors"],
            f"{counts['reward']:g}/{counts['feedback']}",
            f"{counts['success_rate']:.4f}",
            "n/a"
            if counts["p95_latency_seconds"] is None
            else f"{counts['p95_latency_seconds']:.4g}s",
        ]
        for name, counts in decision.as_dict()["counts"].items()
        if name in (decision.baseline, decision.candidate)
    ]
    lines = [
        f"{decision.method}, alpha {decision.alpha}; baseline {decision.baseline}, "
        f"candidate {decision.candidate}; look {decision.look} of {looks} ({decision.at})",
        table(["predictor", "requests", "5xx", "reward/feedback", "rate", "p95"], rows),
        *(
            f"guardrail {g.name}: {'ok' if g.passed else 'BREACHED'} ({g.detail})"
            for g in decision.guardrails
        ),
        f"decision: {decision.decision.value} ({decision.reason})",
    ]
    return "\n".join(lines)


def window_seconds(value: str) -> int:
    try:
        return promql.duration_seconds(TypeAdapter(promql.PromDuration).validate_python(value))
    except ValidationError:
        raise ConfigurationError(
            f"--window {value!r} is not a Prometheus duration; expected e.g. 30m, 6h, 7d"
        ) from None


def timestamp(value: str) -> float:
    """Unix seconds or ISO 8601 (with offset) as Unix seconds."""
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is neither Unix seconds nor ISO 8601 (e.g. 2026-11-23T12:00:00+00:00)"
        ) from None
