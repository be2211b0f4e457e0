"""The lifecycle subcommands: their options, and how each turns a result into output.

Parsers import nothing heavy; each handler imports MLflow, scikit-learn and pandas (through
the modules doing the work) only when it runs, so ``python -m model --help`` stays fast.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from model.console import emit, progress, table
from model.conventions import CANDIDATE, CHALLENGER, CHAMPION
from model.errors import ConfigurationError
from model.estimators import ESTIMATORS
from model.locations import tracking_uri_argument
from model.specs import spec_names

if TYPE_CHECKING:
    from model.gate import GateThresholds, GateVerdict
    from model.promotion import PromotionRecord
    from model.specs import TrainingSpec

EXIT_GATE_FAILED = 3


def register_train(
    subcommands: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    parser = _subcommand(
        subcommands,
        common,
        _train,
        "validate data, train, register and gate a version; 'candidate' moves only if it passed",
    )
    parser.add_argument(
        "--spec",
        help=f"training spec in model/specs/ (default: the --model-name; one of {spec_names()})",
    )
    parser.add_argument(
        "--data",
        help="CSV/Parquet path or URI (s3://, mlflow-artifacts:/, runs:/, file://...); default: "
        "the spec's dataset",
    )
    parser.add_argument(
        "--schema", help="YAML/JSON dataset schema (default: the spec's; needed without a spec)"
    )
    parser.add_argument(
        "--data-rev",
        help="Git revision of the spec's DVC-tracked dataset to train on (a commit, tag or "
        "branch; default: the working tree)",
    )
    parser.add_argument(
        "--data-repo",
        help="Git repository (URL or path) holding that dataset's .dvc file (default: this one)",
    )
    parser.add_argument(
        "--skip-unchanged",
        action="store_true",
        help="train only if the data's hash differs from the latest registered version's; "
        "otherwise say so and exit 0",
    )
    parser.add_argument(
        "--estimator", choices=sorted(ESTIMATORS), help="default: the spec's estimator"
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="estimator hyper-parameter, VALUE parsed as JSON when it can be (repeatable; "
        "overrides the spec's)",
    )
    parser.add_argument("--seed", type=int, help="default: the spec's, else 42")
    parser.add_argument("--test-size", type=float, help="held-out fraction (default: 0.25)")
    _add_gate_options(parser)


def register_validate(
    subcommands: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    parser = _subcommand(
        subcommands, common, _validate, "check a spec's dataset against its schema, train nothing"
    )
    parser.add_argument("--spec", required=True, help=f"one of {spec_names()}")
    parser.add_argument("--data-rev", help="Git revision of its DVC-tracked dataset")


def register_evaluate(
    subcommands: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    parser = _subcommand(
        subcommands, common, _evaluate, "re-run the quality gate of a version against the champion"
    )
    _add_version_option(parser, CANDIDATE)
    parser.add_argument(
        "--train-report",
        type=argparse.FileType("r"),
        help="`train --json` output naming the version (the DVC pipeline's evaluate stage)",
    )
    _add_gate_options(parser)


def register_promote(
    subcommands: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    parser = _subcommand(
        subcommands,
        common,
        _promote,
        "point 'champion' at a version whose gate passed, or copy one to another registry",
    )
    _add_version_option(
        parser, f"{CHALLENGER} (else the {CANDIDATE}), or the source {CHAMPION} when copying"
    )
    parser.add_argument("--force", action="store_true", help="promote even if the gate failed")
    across = parser.add_argument_group(
        "across registries (dev -> prod): copy the version with its digest, lineage and verdict "
        "and make it the target's champion; credentials per side from "
        "MLFLOW_FROM_TRACKING_USERNAME/_PASSWORD/_TOKEN and MLFLOW_TO_TRACKING_..."
    )
    across.add_argument(
        "--from-tracking-uri", type=tracking_uri_argument, help="the registry to copy from"
    )
    across.add_argument(
        "--to-tracking-uri", type=tracking_uri_argument, help="the registry to copy to"
    )
    _add_ledger_options(parser, reason_help="why (required with --force)")


def register_rollback(
    subcommands: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    parser = _subcommand(
        subcommands, common, _rollback, "return 'champion' to the previous version"
    )
    parser.add_argument(
        "--force", action="store_true", help="roll back even to a version whose gate failed"
    )
    _add_ledger_options(parser, reason_help="why (required with --force)")


def register_history(
    subcommands: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    _subcommand(subcommands, common, _history, "list every ledger entry (promotions, rollbacks...)")


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


def _add_version_option(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("--version", help=f"model version (default: the {default} alias)")


def _add_ledger_options(parser: argparse.ArgumentParser, reason_help: str) -> None:
    parser.add_argument("--reason", default="", help=f"{reason_help}; kept in the ledger")
    parser.add_argument("--actor", help="who does it (default: the login name)")


def _add_gate_options(parser: argparse.ArgumentParser) -> None:
    gate = parser.add_argument_group(
        "quality gate (challenger vs champion on the same held-out data; defaults: the spec's)"
    )
    gate.add_argument("--primary-metric", help="metric that must improve (e.g. f1_macro, r2)")
    gate.add_argument(
        "--min-improvement", type=float, help="minimum absolute gain of the primary metric"
    )
    gate.add_argument(
        "--min-relative-improvement",
        type=float,
        help="minimum relative gain of the primary metric, 0.01 = 1%%",
    )
    gate.add_argument(
        "--guard", action="append", help="metric that may never get worse (repeatable)"
    )


def _thresholds(args: argparse.Namespace, defaults: dict[str, Any]) -> GateThresholds:
    """The gate options given on the command line, the rest from ``defaults``."""
    from model.gate import GateThresholds

    given = {
        "primary_metric": args.primary_metric,
        "min_absolute_improvement": args.min_improvement,
        "min_relative_improvement": args.min_relative_improvement,
        "guarded_metrics": args.guard,
    }
    return GateThresholds.parse(
        **{key: value if value is not None else defaults.get(key) for key, value in given.items()}
    )


def _train(args: argparse.Namespace) -> int:
    from model.specs import load_spec
    from model.store import Store
    from model.training import TrainingConfig
    from model.training_run import train_and_register

    spec = load_spec(args.spec or args.model_name)
    if args.spec and spec is None:
        raise ConfigurationError(f"no training spec {args.spec!r}; specs: {spec_names()}")
    if spec is None and (args.data is None or args.schema is None):
        raise ConfigurationError(
            f"no training spec for model {args.model_name!r}: pass --spec (one of "
            f"{spec_names()}) or both --data and --schema, or add model/specs/"
            f"{args.model_name}.yaml"
        )
    dataset = _dataset(args, spec)
    if args.skip_unchanged:
        skipped = _unchanged(args, dataset)
        if skipped is not None:
            emit(args.json, skipped, skipped["detail"])
            return 0
    estimator = args.estimator or (spec.estimator.name if spec else "logistic_regression")
    spec_params = spec.estimator.params if spec and estimator == spec.estimator.name else {}
    config = TrainingConfig.parse(
        kind=dataset.schema.target.kind,
        estimator=estimator,
        params={**spec_params, **_parse_params(args.param)},
        seed=args.seed if args.seed is not None else (spec.seed if spec else 42),
        test_size=args.test_size or (spec.test_size if spec else 0.25),
    )
    outcome = train_and_register(
        dataset,
        config,
        _thresholds(args, spec.gate.model_dump() if spec else {}),
        Store.open(args.tracking_uri),
        args.model_name,
        progress,
        drift_bins=spec.drift.bins if spec else 10,
        spec=spec.name if spec and args.data is None else None,
    )
    metrics = table(["metric", "value"], [[k, f"{v:.4f}"] for k, v in outcome.metrics.items()])
    summary = table(
        ["model", "version", "candidate", "gate", "dataset hash", "digest", "run"],
        [
            [
                outcome.model_name,
                outcome.version,
                "moved here" if outcome.candidate else "NOT moved",
                _verdict_word(outcome.gate),
                outcome.dataset_hash[:12],
                outcome.model_digest[:19],
                outcome.run_id,
            ]
        ],
    )
    emit(args.json, outcome.as_dict(), f"{summary}\n\n{metrics}\n\n{_gate_text(outcome.gate)}")
    return 0 if outcome.gate.passed else EXIT_GATE_FAILED


def _dataset(args: argparse.Namespace, spec: TrainingSpec | None) -> Any:
    """``--data`` (with ``--schema`` or the spec's schema), else the spec's own dataset."""
    from pathlib import Path

    from model.data import load_file_dataset, load_spec_dataset
    from model.locations import resolve_tracking_uri
    from model.schema import load_schema

    if args.data is None:
        return load_spec_dataset(spec, args.data_rev, args.data_repo)
    if args.data_rev or args.data_repo:
        raise ConfigurationError("--data-rev/--data-repo select the spec's DVC dataset, not --data")
    schema = load_schema(Path(args.schema)) if args.schema else spec.dataset_schema
    return load_file_dataset(args.data, schema, resolve_tracking_uri(args.tracking_uri))


def _unchanged(args: argparse.Namespace, dataset: Any) -> dict[str, Any] | None:
    """The skip notice when the latest registered version trained on the same data, else None."""
    from model.conventions import TAG_DATASET_HASH
    from model.data import dataset_hash
    from model.registry import latest_version
    from model.store import Store

    latest = latest_version(Store.open(args.tracking_uri), args.model_name)
    data_hash = dataset_hash(dataset.frame)
    if latest is None or latest[1].get(TAG_DATASET_HASH) != data_hash:
        return None
    version = dataset.data_version
    named = f"DVC md5 {version.md5} at {version.git_rev}, " if version else ""
    return {
        "model_name": args.model_name,
        "skipped": True,
        "version": latest[0],
        "dataset_hash": data_hash,
        "detail": f"training skipped: the data ({named}dataset hash {data_hash[:12]}) is "
        f"unchanged since {args.model_name} version {latest[0]}",
    }


def _validate(args: argparse.Namespace) -> int:
    from model.data import dataset_hash, load_spec_dataset
    from model.specs import load_spec
    from model.validation import validate

    spec = load_spec(args.spec)
    if spec is None:
        raise ConfigurationError(f"no training spec {args.spec!r}; specs: {spec_names()}")
    dataset = load_spec_dataset(spec, args.data_rev)
    validate(dataset)
    version = dataset.data_version
    result = {
        "spec": spec.name,
        "valid": True,
        "rows": len(dataset.frame),
        "dataset_hash": dataset_hash(dataset.frame),
        "data_version": version.as_dict() if version else None,
    }
    emit(args.json, result, f"{dataset.source}: {len(dataset.frame)} rows valid")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from model.assessment import assess
    from model.registry import recorded_thresholds, resolve_version
    from model.store import Store

    store = Store.open(args.tracking_uri)
    requested = json.load(args.train_report)["version"] if args.train_report else args.version
    version = resolve_version(store, args.model_name, requested, CANDIDATE)
    progress(f"evaluating {args.model_name} version {version} against the champion")
    defaults = recorded_thresholds(store, args.model_name, version)
    verdict = assess(store, args.model_name, version, _thresholds(args, defaults))
    emit(args.json, verdict.as_dict(), _gate_text(verdict))
    return 0 if verdict.passed else EXIT_GATE_FAILED


def _promote(args: argparse.Namespace) -> int:
    if (args.from_tracking_uri is None) != (args.to_tracking_uri is None):
        raise ConfigurationError("--from-tracking-uri and --to-tracking-uri go together")
    if args.from_tracking_uri is not None:
        return _copy_across(args)
    from model.promotion import promote

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


def _copy_across(args: argparse.Namespace) -> int:
    if args.tracking_uri:
        raise ConfigurationError(
            "copying across registries takes --from-tracking-uri and --to-tracking-uri, not "
            "--tracking-uri"
        )
    from model.transfer import copy_version

    outcome = copy_version(
        args.model_name,
        args.version,
        from_tracking_uri=args.from_tracking_uri,
        to_tracking_uri=args.to_tracking_uri,
        actor=args.actor,
        reason=args.reason,
        progress=progress,
        force=args.force,
    )
    records = [r for r in (outcome.exported, outcome.imported) if r is not None]
    text = (
        f"{outcome.model_name} version {outcome.from_version} at {outcome.from_tracking_uri} "
        f"-> version {outcome.to_version} at {outcome.to_tracking_uri} ({outcome.model_digest})"
    )
    emit(
        args.json,
        outcome.as_dict(),
        f"{text}\n{_records_text(records) if records else 'already the champion there'}",
    )
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from model.promotion import rollback

    record = rollback(
        args.model_name,
        tracking_uri=args.tracking_uri,
        reason=args.reason,
        actor=args.actor,
        force=args.force,
    )
    emit(args.json, record.as_dict(), _records_text([record]))
    return 0


def _history(args: argparse.Namespace) -> int:
    from model.promotion import read_ledger
    from model.store import Store

    ledger = read_ledger(Store.open(args.tracking_uri), args.model_name)
    records = ledger.records
    text = _records_text(records) if records else f"no promotions of {args.model_name} yet"
    notes = [f"#{r.sequence} {r.state}: {r.note}" for r in records if r.note]
    pending = [
        f"#{r.sequence} is pending: it stopped part-way (or is running); the next promote or "
        "rollback settles it by where the alias points once its lease ends"
        for r in records
        if r.state == "pending"
    ]
    rejected = [f"skipped, not trusted: {line}" for line in ledger.rejected]
    broken = [f"BROKEN CHAIN: {ledger.broken}"] if ledger.broken else []
    emit(
        args.json,
        {
            "model_name": args.model_name,
            "history": [r.as_dict() for r in records],
            "rejected": ledger.rejected,
            "broken": ledger.broken,
        },
        "\n".join([text, *notes, *pending, *rejected, *broken]),
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
            r.state,
            r.actor,
            r.recorded_at,
            "yes" if r.forced else "no",
            r.reason,
        ]
        for r in records
    ]
    return table(
        ["#", "action", "from", "to", "state", "who", "when (UTC)", "forced", "reason"], rows
    )
