"""One training run: validate, fit, evaluate, log to MLflow, register, move ``challenger``."""

from __future__ import annotations

import platform
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import sklearn
import skops.io
from mlflow.models import infer_signature
from sklearn.pipeline import Pipeline

from model.assessment import assess
from model.data import Dataset, dataset_hash
from model.drift_reference import build_drift_reference
from model.evaluation import Evaluation, evaluate
from model.gate import GateThresholds, GateVerdict
from model.provenance import git_commit, python_environment
from model.registry import (
    CHALLENGER,
    HOLDOUT_ARTIFACT,
    TAG_DATASET_HASH,
    TAG_GIT_COMMIT,
    TAG_METRIC_PREFIX,
    set_version_tags,
)
from model.store import Store
from model.training import Split, TrainingConfig, fit, split
from model.validation import validate

_INPUT_EXAMPLE_ROWS = 5


@dataclass(frozen=True)
class TrainingOutcome:
    """What a finished run produced; ``as_dict`` is the ``train --json`` contract."""

    model_name: str
    version: str
    run_id: str
    tracking_uri: str
    metrics: dict[str, float]
    gate: GateVerdict
    dataset_hash: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "version": self.version,
            "model_uri": f"models:/{self.model_name}/{self.version}",
            "run_id": self.run_id,
            "tracking_uri": self.tracking_uri,
            "metrics": self.metrics,
            "gate": self.gate.as_dict(),
            "dataset_hash": self.dataset_hash,
        }


def train_and_register(
    dataset: Dataset,
    config: TrainingConfig,
    thresholds: GateThresholds,
    store: Store,
    model_name: str,
    progress: Callable[[str], None],
) -> TrainingOutcome:
    """Validate the data, train, log everything to MLflow, register a version and gate it."""
    progress(f"validating {dataset.source} against schema {dataset.schema.name!r}")
    validate(dataset)
    data_hash = dataset_hash(dataset.frame)
    parts = split(dataset.features, dataset.target, config)
    progress(f"training {config.estimator} on {len(parts.x_train)} rows (seed {config.seed})")
    pipeline = fit(config, parts.x_train, parts.y_train)
    evaluation = evaluate(pipeline, parts.x_test, parts.y_test, dataset.schema.target.classes)
    progress(
        f"held-out ({len(parts.x_test)} rows): accuracy {evaluation.metrics['accuracy']:.4f}, "
        f"f1_macro {evaluation.metrics['f1_macro']:.4f}"
    )
    commit = git_commit()
    with store.activated():
        run_id, model_uri = _log_run(
            store.ensure_experiment(model_name), dataset, config, parts, pipeline, evaluation,
            {TAG_DATASET_HASH: data_hash, TAG_GIT_COMMIT: commit}, progress,
        )  # fmt: skip
        version = str(mlflow.register_model(model_uri, model_name).version)
    set_version_tags(
        store,
        model_name,
        version,
        {
            TAG_DATASET_HASH: data_hash,
            TAG_GIT_COMMIT: commit,
            **{f"{TAG_METRIC_PREFIX}{k}": f"{v:.6f}" for k, v in evaluation.metrics.items()},
        },
    )
    store.client.set_registered_model_alias(model_name, CHALLENGER, version)
    progress(f"registered {model_name} version {version}; alias {CHALLENGER!r} -> {version}")
    verdict = assess(store, model_name, version, thresholds)
    return TrainingOutcome(
        model_name=model_name,
        version=version,
        run_id=run_id,
        tracking_uri=store.tracking_uri,
        metrics=evaluation.metrics,
        gate=verdict,
        dataset_hash=data_hash,
    )


def _log_run(
    experiment_id: str,
    dataset: Dataset,
    config: TrainingConfig,
    parts: Split,
    pipeline: Pipeline,
    evaluation: Evaluation,
    provenance_tags: dict[str, str],
    progress: Callable[[str], None],
) -> tuple[str, str]:
    """Log params, metrics, provenance, artifacts and the model; return (run id, model URI)."""
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_params(
            {
                "estimator": config.estimator,
                **{f"estimator.{k}": v for k, v in config.estimator_params().items()},
                "seed": config.seed,
                "test_size": config.test_size,
                "dataset.name": dataset.schema.name,
                "dataset.source": dataset.source,
                "dataset.rows": len(dataset.frame),
            }
        )
        mlflow.log_metrics(evaluation.metrics)
        mlflow.set_tags({**provenance_tags, "python_version": platform.python_version()})
        mlflow.log_input(
            mlflow.data.from_pandas(
                dataset.frame,
                source=dataset.source,
                name=dataset.schema.name,
                targets=dataset.schema.target.name,
            ),
            context="training",
        )
        mlflow.log_dict(evaluation.confusion_artifact(), "evaluation/confusion_matrix.json")
        mlflow.log_text(python_environment(), "environment/pip-freeze.txt")
        drift_reference = build_drift_reference(parts.x_train)
        mlflow.log_dict(drift_reference, "drift_reference.json")
        _log_holdout(parts.x_test.assign(**{dataset.schema.target.name: parts.y_test}))
        progress("logging the model to MLflow")
        info = mlflow.sklearn.log_model(
            pipeline,
            name="model",
            signature=infer_signature(
                parts.x_train.astype("float64"),
                pd.Series(pipeline.predict(parts.x_train), name=dataset.schema.target.name).astype(
                    str
                ),
            ),
            input_example=parts.x_train.head(_INPUT_EXAMPLE_ROWS).astype("float64"),
            metadata={"drift_reference": drift_reference},
            pip_requirements=_pip_requirements(),
            skops_trusted_types=_skops_trusted_types(pipeline),
        )
    return run.info.run_id, info.model_uri


def _log_holdout(holdout: pd.DataFrame) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / Path(HOLDOUT_ARTIFACT).name
        holdout.reset_index(drop=True).to_parquet(path, index=False)
        mlflow.log_artifact(str(path), str(Path(HOLDOUT_ARTIFACT).parent))


def _skops_trusted_types(pipeline: Pipeline) -> list[str]:
    """Types this pipeline needs that skops does not load by default (e.g. tree node storage).

    We fitted the pipeline ourselves, so its own types are trusted; loaders trust nothing else.
    """
    return skops.io.get_untrusted_types(data=skops.io.dumps(pipeline))


def _pip_requirements() -> list[str]:
    """Pinned requirements to load the model (skops is its safe serialization format).

    Given explicitly so MLflow need not infer them in a slow subprocess.
    """
    return [
        f"mlflow=={mlflow.__version__}",
        f"scikit-learn=={sklearn.__version__}",
        f"numpy=={np.__version__}",
        f"pandas=={pd.__version__}",
        f"skops=={metadata.version('skops')}",
    ]
