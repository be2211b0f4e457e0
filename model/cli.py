"""``python -m model``: argument parsing and dispatch.

Each subcommand lives in a module with ``register(subcommands, common)`` that adds its parser and
sets ``handler`` (``args -> exit code``, printing its result with ``console.emit``); adding one is
one line in ``SUBCOMMANDS``, or in ``LAZY_SUBCOMMANDS`` for a module that is costly to import
(it is imported only when its command is chosen; ``--help`` lists it from the help text here).
Parsing imports nothing heavy: MLflow, scikit-learn and pandas load only inside the handler
that needs them.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import warnings
from collections.abc import Callable, Sequence

from model import commands
from model.console import emit, results_apart
from model.conventions import DEFAULT_MODEL_NAME
from model.errors import DataValidationError, LifecycleError
from model.locations import DEFAULT_TRACKING_URI, resolve_tracking_uri, tracking_uri_argument

Register = Callable[[argparse._SubParsersAction, argparse.ArgumentParser], None]

SUBCOMMANDS: tuple[Register, ...] = (
    commands.register_train,
    commands.register_evaluate,
    commands.register_promote,
    commands.register_rollback,
    commands.register_history,
)
LAZY_SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "abtest": (
        "model.abtest_command",
        "decide an A/B test (always-valid mSPRT) from recorded evidence or Prometheus",
    ),
    "score": (
        "model.score_command",
        "score a CSV file with the version a predictor serves, into Parquet",
    ),
}
"""Command name -> (module with ``register``, one-line help)."""

EXIT_ERROR = 1


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The top-level parser with every subcommand and the options they share.

    Lazy subcommands get their real parser only when ``argv`` chooses them.
    """
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--tracking-uri",
        type=tracking_uri_argument,
        help="MLflow tracking/registry URI (default: $MLFLOW_TRACKING_URI, else "
        f"{DEFAULT_TRACKING_URI} with artifacts beside it)",
    )
    common.add_argument(
        "--model-name",
        default=DEFAULT_MODEL_NAME,
        help="registered model name; `train` uses the spec of the same name unless --spec, "
        "--data/--schema say otherwise (default: %(default)s)",
    )
    common.add_argument("--json", action="store_true", help="print one JSON object for machines")
    parser = argparse.ArgumentParser(
        prog="python -m model", description="Train, gate, register and promote models."
    )
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in SUBCOMMANDS:
        register(subcommands, common)
    chosen = next((arg for arg in (sys.argv[1:] if argv is None else argv)), None)
    for name, (module, help_text) in LAZY_SUBCOMMANDS.items():
        if name == chosen:
            importlib.import_module(module).register(subcommands, common)
        else:
            subcommands.add_parser(name, help=help_text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; lifecycle errors print a clear message and exit non-zero."""
    args = build_parser(argv).parse_args(argv)
    from model.failfast import bound_mlflow_retries

    bound_mlflow_retries()
    _quiet_libraries()
    with results_apart():
        try:
            return args.handler(args)
        except LifecycleError as exc:
            _report_error(exc, args.json)
        except Exception as exc:
            if not _from_mlflow(exc):
                raise
            _report_error(_registry_error(exc, args), args.json)
        return EXIT_ERROR


def _from_mlflow(exc: Exception) -> bool:
    """Whether `exc` is an MlflowException, told without importing MLflow: a command that never
    loads it (`abtest --evidence`) stays fast."""
    exceptions = sys.modules.get("mlflow.exceptions")
    return exceptions is not None and isinstance(exc, exceptions.MlflowException)


def _registry_error(exc: Exception, args: argparse.Namespace) -> LifecycleError:
    """An MLflow failure, naming the registry it came from."""
    uris = (
        [args.from_tracking_uri, args.to_tracking_uri]
        if getattr(args, "from_tracking_uri", None)
        else [resolve_tracking_uri(args.tracking_uri)]
    )
    return LifecycleError(f"MLflow at {' / '.join(uris)} failed: {exc}")


def _report_error(exc: LifecycleError, as_json: bool) -> None:
    """The message on stderr for people; with ``--json`` also an ``error`` object on stdout."""
    print(f"error: {exc}", file=sys.stderr)
    if as_json:
        error = {"type": type(exc).__name__, "message": str(exc)}
        if isinstance(exc, DataValidationError):
            error["violations"] = exc.violations
        emit(True, {"error": error}, "")


def _quiet_libraries() -> None:
    """Keep stderr readable: MLflow's and Alembic's informational chatter is not progress."""
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module="mlflow")
