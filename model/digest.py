"""The content digest of an MLflow model directory (the ``model_digest`` contract).

``sha256:`` + hex SHA-256 of a manifest: for every regular file in sorted order of its relative
POSIX path, ``path + NUL + hex sha256(bytes) + LF``. ``registered_model_meta`` (written by the
MLflow client into directories it downloads from ``models:/``) is left out; nothing else is.
``serving/`` has its own implementation of the same contract (docs/contracts.md).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

EXCLUDED = frozenset({"registered_model_meta"})
PREFIX = "sha256:"


def model_digest(directory: Path) -> str:
    """The digest of every file under ``directory`` as the contract defines it."""
    if not directory.is_dir():
        raise NotADirectoryError(f"model directory {directory} does not exist")
    files = sorted(
        (path.relative_to(directory).as_posix(), path)
        for path in directory.rglob("*")
        if path.is_file() and not path.is_symlink()
    )
    manifest = hashlib.sha256()
    for relative, path in files:
        if relative in EXCLUDED:
            continue
        manifest.update(relative.encode() + b"\0" + file_sha256(path).encode() + b"\n")
    return PREFIX + manifest.hexdigest()


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of one file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
