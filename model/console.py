"""Output for people (progress on stderr, aligned tables) and for machines (one JSON object)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, redirect_stdout
from contextvars import ContextVar
from typing import Any, TextIO

_results: ContextVar[TextIO | None] = ContextVar("results", default=None)


def progress(message: str) -> None:
    """A progress line on stderr, so stdout stays clean for ``--json``."""
    print(f"[model] {message}", file=sys.stderr, flush=True)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table with columns padded to their widest cell."""
    cells = [[str(cell) for cell in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)


def emit(as_json: bool, data: dict[str, Any] | list[Any], text: str) -> None:
    """Print ``data`` as JSON for machines or ``text`` for people, on the result stream."""
    rendered = json.dumps(data, indent=2, sort_keys=True) if as_json else text
    print(rendered, file=_results.get() or sys.stdout, flush=True)


@contextmanager
def results_apart() -> Iterator[None]:
    """Only :func:`emit` writes to stdout; stray prints (MLflow's run links) go to stderr."""
    token = _results.set(sys.stdout)
    try:
        with redirect_stdout(sys.stderr):
            yield
    finally:
        _results.reset(token)
