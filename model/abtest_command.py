"""`python -m model abtest`: read the A/B evidence from Prometheus, decide, optionally apply."""

import argparse
from datetime import datetime
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from infra.model_monitoring import promql
from infra.model_monitoring.config import PromDuration, duration_seconds
from model.abtest.apply import apply_promotion
from model.abtest.decision import Decision, Policy, Verdict, decide
from model.abtest.evidence import read_evidence
from model.console import emit, table
from model.errors import ConfigurationError

EXIT_INSUFFICIENT_DATA = 3
"""Exit status when the test refuses to decide, so automation can tell it from a verdict."""


def register(subcommands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the `abtest` subcommand."""
    defaults = Policy()
    parser = subcommands.add_parser(
        "abtest",
        parents=[common],
        help="decide an A/B test from Prometheus metrics (and apply the promotion)",
        description="Compare the challenger predictor with the champion using the "
        "one-sided two-proportion z-test on the feedback success rate (or availability "
        "when there is no feedback), with latency and availability guardrails.",
    )
    parser.add_argument("--prometheus-url", required=True, help="e.g. http://localhost:9090")
    parser.add_argument("--deployment", required=True, help="SeldonDeployment name")
    parser.add_argument("--namespace", default="seldon", help="its namespace (%(default)s)")
    parser.add_argument("--champion", default="champion", help="predictor (%(default)s)")
    parser.add_argument("--challenger", default="challenger", help="predictor (%(default)s)")
    parser.add_argument("--window", default="24h", help="test window, e.g. 6h, 7d (%(default)s)")
    parser.add_argument(
        "--at", type=_timestamp, help="end of the window, ISO 8601 or Unix seconds (default: now)"
    )
    parser.add_argument(
        "--alpha", type=float, default=defaults.significance_level, help="significance level"
    )
    parser.add_argument("--power", type=float, default=defaults.power, help="statistical power")
    parser.add_argument(
        "--min-effect",
        type=float,
        default=defaults.minimum_effect,
        help="smallest absolute difference in rate worth detecting (%(default)s)",
    )
    parser.add_argument(
        "--min-samples", type=int, default=defaults.minimum_samples, help="floor per predictor"
    )
    parser.add_argument(
        "--latency-tolerance",
        type=float,
        default=defaults.latency_tolerance,
        help="allowed p95 latency increase of the challenger, as a fraction (%(default)s)",
    )
    parser.add_argument(
        "--apply",
        action="store_true",
        help="on a promote verdict: move the champion alias, record it in the ledger and give "
        "the challenger 100%% of the traffic in --stack-file",
    )
    parser.add_argument("--stack-file", type=Path, help="Pulumi.<stack>.yaml to edit with --apply")
    parser.add_argument("--reason", default="", help="ledger reason (default: the verdict)")
    parser.add_argument("--actor", help="who applies it (default: the login name)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Decide, print the recommendation, apply it when asked."""
    if args.apply and args.stack_file is None:
        raise ConfigurationError("--apply needs --stack-file Pulumi.<stack>.yaml to edit")
    window = _window(args.window)
    policy = Policy(
        significance_level=args.alpha,
        power=args.power,
        minimum_effect=args.min_effect,
        minimum_samples=args.min_samples,
        latency_tolerance=args.latency_tolerance,
    )
    scope = promql.Scope(args.namespace, args.deployment).only(args.champion, args.challenger)
    evidence = read_evidence(args.prometheus_url, scope, window, args.at)
    decision = decide(
        evidence[args.champion], evidence[args.challenger], policy, duration_seconds(window)
    )
    result = {"deployment": args.deployment, "window": window, **decision.as_dict()}
    text = _text(args.deployment, window, decision)
    if args.apply and decision.verdict is Verdict.PROMOTE:
        applied = apply_promotion(
            decision,
            stack_file=args.stack_file,
            deployment=args.deployment,
            tracking_uri=args.tracking_uri,
            actor=args.actor,
            reason=args.reason,
        )
        result["applied"] = {
            "ledger": applied.record.as_dict(),
            "stack_file": applied.stack_file,
            "traffic": applied.traffic,
        }
        text += (
            f"\napplied: {applied.record.model_name} champion "
            f"{applied.record.from_version or 'none'} -> {applied.record.to_version} "
            f"(ledger #{applied.record.sequence}); {applied.stack_file} traffic {applied.traffic}"
        )
    elif args.apply:
        text += f"\nnothing applied: the verdict is {decision.verdict.value}"
    emit(args.json, result, text)
    return EXIT_INSUFFICIENT_DATA if decision.verdict is Verdict.INSUFFICIENT_DATA else 0


def _text(deployment: str, window: str, decision: Decision) -> str:
    rows = [
        [
            arm.predictor,
            f"{arm.rate:.4f}",
            f"{arm.successes:g}/{arm.trials}",
            arm.needed,
            f"{arm.availability:.4f}",
            "n/a" if arm.p95_latency_seconds is None else f"{arm.p95_latency_seconds:.4g}s",
        ]
        for arm in (decision.champion, decision.challenger)
    ]
    lines = [
        f"A/B test of {deployment} over {window}: {decision.metric}, {decision.method}, "
        f"significance level {decision.significance_level}, power {decision.power}, "
        f"minimum effect {decision.minimum_effect}",
        table(["predictor", "rate", "successes/trials", "needed", "availability", "p95"], rows),
    ]
    if decision.p_value is not None:
        lines.append(f"z = {decision.z:.3f}, one-sided p = {decision.p_value:.4g}")
    lines += [
        f"guardrail {g.name}: {'ok' if g.passed else 'FAIL'} ({g.detail})"
        for g in decision.guardrails
    ]
    lines.append(f"verdict: {decision.verdict.value}\nrecommendation: {decision.recommendation}")
    return "\n".join(lines)


def _window(value: str) -> str:
    try:
        return TypeAdapter(PromDuration).validate_python(value)
    except ValidationError:
        raise ConfigurationError(
            f"--window {value!r} is not a Prometheus duration; expected e.g. 30m, 6h, 7d"
        ) from None


def _timestamp(value: str) -> float:
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
