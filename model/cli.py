"""``python -m model``: argument parsing and dispatch.

Each subcommand lives in a module with ``register(subcommands, common)`` that adds its parser and
sets ``handler`` (``args -> exit code``, printing its result with ``console.emit``); adding one is
one line in ``SUBCOMMANDS``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from collections.abc import Callable, Sequence

from mlflow.exceptions import MlflowException

from model import abtest_command, commands
from model.console import emit, results_apart
from model.errors import DataValidationError, LifecycleError
from model.registry import DEFAULT_MODEL_NAME
from model.store import DEFAULT_TRACKING_URI

Register = Callable[[argparse._SubParsersAction, argparse.ArgumentParser], None]

SUBCOMMANDS: tuple[Register, ...] = (
    commands.register_train,
    commands.register_evaluate,
    commands.register_promote,
    commands.register_rollback,
    commands.register_history,
    abtest_command.register,
)

EXIT_ERROR = 1


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand and the options they share."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--tracking-uri",
        help="MLflow tracking/registry URI (default: $MLFLOW_TRACKING_URI, else "
        f"{DEFAULT_TRACKING_URI} with artifacts beside it)",
    )
    common.add_argument(
        "--model-name",
        default=DEFAULT_MODEL_NAME,
        help="registered model name (default: %(default)s)",
    )
    common.add_argument("--json", action="store_true", help="print one JSON object for machines")
    parser = argparse.ArgumentParser(
        prog="python -m model", description="Train, gate, register and promote the model."
    )
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in SUBCOMMANDS:
        register(subcommands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand; lifecycle errors print a clear message and exit non-zero."""
    args = build_parser().parse_args(argv)
    _quiet_libraries()
    with results_apart():
        try:
            return args.handler(args)
        except (LifecycleError, MlflowException) as exc:
            _report_error(exc, args.json)
            return EXIT_ERROR


def _report_error(exc: LifecycleError | MlflowException, as_json: bool) -> None:
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
