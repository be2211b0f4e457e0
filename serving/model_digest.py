"""The model directory's content digest, checked against MODEL_DIGEST before anything is read.

Contract (docs/contracts.md, shared with `model/`, which computes it at registration):
sha256 over the manifest `<relative POSIX path>\\0<sha256 hex of the file>\\n` of every regular
file in sorted path order, `registered_model_meta` (written by the MLflow client on download)
excluded.
"""

import hashlib
from pathlib import Path

EXCLUDED = {"registered_model_meta"}
CHUNK_BYTES = 1 << 20


class DigestMismatch(RuntimeError):
    """The downloaded artifact is not the one the stack declared."""


def directory_digest(root: Path) -> str:
    """`sha256:<hex>` of the model directory at `root`."""
    manifest = hashlib.sha256()
    for path in sorted(root.rglob("*"), key=lambda p: p.relative_to(root).as_posix()):
        relative = path.relative_to(root).as_posix()
        if path.is_symlink():
            raise DigestMismatch(f"{root}: {relative} is a symbolic link; a model holds files only")
        if not path.is_file() or relative in EXCLUDED:
            continue
        manifest.update(relative.encode() + b"\0" + _file_sha256(path).encode() + b"\n")
    return f"sha256:{manifest.hexdigest()}"


def verify_digest(root: Path, expected: str, label: str) -> None:
    """Refuse `root` unless its digest equals `expected` (MODEL_DIGEST)."""
    actual = directory_digest(root)
    if actual != expected:
        raise DigestMismatch(
            f"{label}: artifact digest {actual} does not match MODEL_DIGEST {expected}; "
            "the files in the registry are not the ones the stack declared, refusing to load"
        )


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()
