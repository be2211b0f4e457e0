"""``python -m model score``: score a CSV file with the registered version a predictor serves."""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from model.console import emit
from model.locations import resolve_tracking_uri
from model.scoring import DEFAULT_CHUNK_ROWS, resolve_scoring_model, score_file


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number of rows, got {text}")
    return value


def register(subcommands: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    """Add the `score` subcommand."""
    parser = subcommands.add_parser(
        "score",
        parents=[common],
        help="score a CSV file with the version a predictor serves, into Parquet",
        description="Resolve --model once to one registered version, check its files against "
        "its model_digest (or --digest) as the model server does, validate each chunk of rows "
        "as the server validates a request, and write the predictions with the version that "
        "made them. Progress goes to stderr, one line per chunk.",
    )
    parser.add_argument("--model", required=True, help="<name>@<alias> or <name>/<version>")
    parser.add_argument(
        "--input", required=True, help="CSV with a header row: a path or an artifact URI"
    )
    parser.add_argument(
        "--output",
        required=True,
        help="Parquet file to write, or an artifact folder URI ending in '/' (each run adds "
        "scored-v<version>-<UTC time>.parquet)",
    )
    parser.add_argument(
        "--digest", help="sha256:<hex> the files must match (default: the version's tag)"
    )
    parser.add_argument(
        "--chunk-rows",
        type=_positive,
        default=DEFAULT_CHUNK_ROWS,
        help="rows read, checked and scored at a time (default: %(default)s)",
    )
    parser.set_defaults(handler=_score)


def _is_uri(text: str) -> bool:
    return ":/" in text and not Path(text).exists()


def _score(args: argparse.Namespace) -> int:
    tracking_uri = resolve_tracking_uri(args.tracking_uri)
    model = resolve_scoring_model(args.model, tracking_uri, args.digest)
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(args.input)
        if _is_uri(args.input):
            from mlflow.artifacts import download_artifacts

            source = Path(
                download_artifacts(
                    artifact_uri=args.input, dst_path=scratch, tracking_uri=tracking_uri
                )
            )
        if _is_uri(args.output):
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            local = Path(scratch) / f"scored-v{model.version}-{stamp}.parquet"
            result = score_file(model, source, local, chunk_rows=args.chunk_rows)
            from mlflow.store.artifact.artifact_repository_registry import (
                get_artifact_repository,
            )

            get_artifact_repository(args.output.rstrip("/")).log_artifact(str(local))
            result = type(result)(result.rows, result.chunks, f"{args.output}{local.name}")
        else:
            result = score_file(model, source, Path(args.output), chunk_rows=args.chunk_rows)
    emit(
        args.json,
        {
            "model_name": model.name,
            "model_version": model.version,
            "model_digest": model.digest,
            "rows": result.rows,
            "chunks": result.chunks,
            "output": result.output,
        },
        f"scored {result.rows} rows of {args.input} with {model.name} version {model.version} "
        f"({model.digest}) into {result.output}",
    )
    return 0
