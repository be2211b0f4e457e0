"""The lifecycle subcommands: their options, and how each turns a result into output."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from model.assessment import assess
from model.console import emit, progress, table
from model.data import load_file_dataset, load_iris_dataset
from model.errors import ConfigurationError
from model.gate import GateThresholds, GateVerdict
from model.promotion import PromotionRecord, history, promote, rollback
from model.registry import CHALLENGER, resolve_version
from model.schema import load_schema
from model.store import Store
from model.training import ESTIMATORS, TrainingConfig
from model.training_run import train_and_register

EXIT_GATE_FAILED = 3


def register_train(
    subcommands: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    parser = _subcommand(
        subcommands, common, _train, "validate data, train, register a version, move 'challenger'"
    )
    parser.add_argument("--data", type=Path, help="CSV/Parquet file (default: scikit-learn's iris)")
    parser.add_argument("--schema", type=Path, help="YAML/JSON dataset schema, needed with --data")
    parser.add_argument("--estimator", choices=sorted(ESTIMATORS), default="logistic_regression")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="estimator hyper-parameter, VALUE parsed as JSON when it can be (repeatable)",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--test-size", type=float, default=0.25, help="held-out fraction")
    _add_gate_options(parser)


def register_evaluate(
    subcommands: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    parser = _subcommand(
        subcommands, common, _evaluate, "re-run the quality gate of a version against the champion"
    )
    _add_version_option(parser)
    _add_gate_options(parser)


def register_promote(
    subcommands: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    parser = _subcommand(
        subcommands, common, _promote, "point 'champion' at a version whose gate passed"
    )
    _add_version_option(parser)
    parser.add_argument("--force", action="store_true", help="promote even if the gate failed")
    _add_ledger_options(parser, reason_help="why (required with --force)")


def register_rollback(
    subcommands: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    parser = _subcommand(
        subcommands, common, _rollback, "return 'champion' to the previous version"
    )
    _add_ledger_options(parser, reason_help="why")


def register_history(
    subcommands: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    _subcommand(subcommands, common, _history, "list every promotion and rollback")


def _subcommand(
    subcommands: argparse._SubParsersAction,
    common: argparse.ArgumentParser,
    handler: Callable[[argparse.Namespace], int],
    help_text: str,
) -> argparse.ArgumentParser:
    """A subparser named after its handler (``_train`` -> ``train``) with the shared options."""
    parser = subcommands.add_parser(handler.__name__.lstrip("_"), parents=[common], help=help_text)
    parser.set_defaults(handler=handler)
    return parser


def _add_version_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", help=f"model version (default: the {CHALLENGER!r} alias)")


def _add_ledger_options(parser: argparse.ArgumentParser, reason_help: str) -> None:
    parser.add_argument("--reason", default="", help=f"{reason_help}; kept in the ledger")
    parser.add_argument("--actor", help="who does it (default: the login name)")


def _add_gate_options(parser: argparse.ArgumentParser) -> None:
    gate = parser.add_argument_group(
        "quality gate (challenger vs champion on the same held-out data)"
    )
    gate.add_argument("--primary-metric", help="metric that must improve (default: f1_macro)")
    gate.add_argument(
        "--min-improvement",
        type=float,
        help="minimum absolute gain of the primary metric (default: 0)",
    )
    gate.add_argument(
        "--min-relative-improvement",
        type=float,
        help="minimum relative gain of the primary metric, 0.01 = 1%% (default: 0)",
    )
    gate.add_argument(
        "--guard",
        action="append",
        help="metric that may never get worse (repeatable; default: accuracy and f1_macro)",
    )


def _thresholds(args: argparse.Namespace) -> GateThresholds:
    return GateThresholds.parse(
        primary_metric=args.primary_metric,
        min_absolute_improvement=args.min_improvement,
        min_relative_improvement=args.min_relative_improvement,
        guarded_metrics=args.guard,
    )


def _train(args: argparse.Namespace) -> int:
    if (args.data is None) != (args.schema is None):
        raise ConfigurationError("--data and --schema go together: a data file needs its schema")
    dataset = (
        load_iris_dataset()
        if args.data is None
        else load_file_dataset(args.data, load_schema(args.schema))
    )
    config = TrainingConfig.parse(
        estimator=args.estimator,
        params=_parse_params(args.param),
        seed=args.seed,
        test_size=args.test_size,
    )
    outcome = train_and_register(
        dataset, config, _thresholds(args), Store.open(args.tracking_uri), args.model_name, progress
    )
    result = outcome.as_dict()
    metrics = table(["metric", "value"], [[k, f"{v:.4f}"] for k, v in outcome.metrics.items()])
    summary = table(
        ["model", "version", "alias", "gate", "dataset hash", "run"],
        [
            [
                outcome.model_name,
                outcome.version,
                CHALLENGER,
                _verdict_word(outcome.gate),
                outcome.dataset_hash[:12],
                outcome.run_id,
            ]
        ],
    )
    emit(args.json, result, f"{summary}\n\n{metrics}\n\n{_gate_text(outcome.gate)}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    store = Store.open(args.tracking_uri)
    version = resolve_version(store, args.model_name, args.version, CHALLENGER)
    progress(f"evaluating {args.model_name} version {version} against the champion")
    verdict = assess(store, args.model_name, version, _thresholds(args))
    emit(args.json, verdict.as_dict(), _gate_text(verdict))
    return 0 if verdict.passed else EXIT_GATE_FAILED


def _promote(args: argparse.Namespace) -> int:
    record = promote(
        args.model_name,
        args.version,
        tracking_uri=args.tracking_uri,
        force=args.force,
        reason=args.reason,
        actor=args.actor,
    )
    emit(args.json, record.as_dict(), _records_text([record]))
    return 0


def _rollback(args: argparse.Namespace) -> int:
    record = rollback(
        args.model_name, tracking_uri=args.tracking_uri, reason=args.reason, actor=args.actor
    )
    emit(args.json, record.as_dict(), _records_text([record]))
    return 0


def _history(args: argparse.Namespace) -> int:
    records = history(args.model_name, tracking_uri=args.tracking_uri)
    text = _records_text(records) if records else f"no promotions of {args.model_name} yet"
    emit(
        args.json, {"model_name": args.model_name, "history": [r.as_dict() for r in records]}, text
    )
    return 0


def _parse_params(pairs: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key:
            raise ConfigurationError(f"--param {pair!r} is not KEY=VALUE (e.g. --param C=0.5)")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def _verdict_word(verdict: GateVerdict) -> str:
    return "passed" if verdict.passed else "FAILED"


def _gate_text(verdict: GateVerdict) -> str:
    champion = verdict.champion_version or "none"
    rows = [
        [check.name, "ok" if check.passed else "FAIL", check.detail] for check in verdict.checks
    ]
    return (
        f"quality gate {_verdict_word(verdict)}: version {verdict.challenger_version} "
        f"vs champion {champion}\n{table(['check', 'result', 'detail'], rows)}"
    )


def _records_text(records: list[PromotionRecord]) -> str:
    rows = [
        [
            r.sequence,
            r.action,
            r.from_version or "none",
            r.to_version,
            r.actor,
            r.recorded_at,
            "yes" if r.forced else "no",
            r.reason,
        ]
        for r in records
    ]
    return table(["#", "action", "from", "to", "who", "when (UTC)", "forced", "reason"], rows)
