"""``model/`` (writes ``model_digest``) and ``serving/`` (verifies it) agree on one directory.

Each side has its own implementation of the contract in docs/contracts.md; this is the check
that they compute the same value, on a model trained and registered by ``python -m model``.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from model.digest import model_digest
from serving.model_digest import directory_digest


def test_serving_and_model_compute_the_same_digest(
    trained_model: dict[str, Any], tmp_path: Path
) -> None:
    model_dir = Path(trained_model["local_model_dir"])

    assert model_digest(model_dir) == directory_digest(model_dir) == trained_model["model_digest"]

    copy = tmp_path / "copy"
    shutil.copytree(model_dir, copy)
    (copy / "registered_model_meta").write_text("model_name: iris\nmodel_version: '1'\n")
    assert model_digest(copy) == directory_digest(copy) == trained_model["model_digest"]
    first = next(path for path in sorted(copy.rglob("*")) if path.suffix == ".skops")
    first.write_bytes(first.read_bytes() + b"\0")
    assert model_digest(copy) == directory_digest(copy) != trained_model["model_digest"]
