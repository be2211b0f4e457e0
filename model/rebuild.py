"""The model directory of one training recipe, built exactly as ``train`` builds it, unlogged.

``reproduce`` runs this (``python -m model rebuild``) from the recorded code's checkout.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.conventions import MODEL_ARTIFACT_PATH
from model.data import Dataset, dataset_hash
from model.digest import model_digest
from model.packaging import save_model
from model.training import TrainingConfig, fit, split
from model.validation import validate


@dataclass(frozen=True)
class Rebuilt:
    model_digest: str
    dataset_hash: str


def rebuild(dataset: Dataset, recipe: dict[str, Any], run_id: str, out: Path) -> Rebuilt:
    """Validate, split, fit and save into ``out/model`` as the run ``run_id`` did (the MLmodel
    file names the run and that path); digest the directory."""
    validate(dataset)
    config = TrainingConfig.parse(
        kind=dataset.schema.target.kind,
        estimator=recipe["estimator"],
        params=recipe["params"],
        seed=recipe["seed"],
        test_size=recipe["test_size"],
    )
    parts = split(dataset.features, dataset.target, config)
    pipeline = fit(config, parts.x_train, parts.y_train)
    model_dir = out / MODEL_ARTIFACT_PATH
    save_model(
        pipeline, parts.x_train, dataset.schema.target.name, run_id, model_dir, recipe["drift_bins"]
    )
    return Rebuilt(model_digest(model_dir), dataset_hash(dataset.frame))
