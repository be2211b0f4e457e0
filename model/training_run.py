"""One training run: validate, fit, evaluate, log to MLflow, register, move ``challenger``."""

from __future__ import annotations

import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
from mlflow.entities import Dataset as MlflowDataset
from mlflow.entities import DatasetInput, InputTag, Metric, Param
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT
from sklearn.pipeline import Pipeline

from model.assessment import assess
from model.data import Dataset, dataset_hash
from model.evaluation import Evaluation, evaluate
from model.gate import GateThresholds, GateVerdict
from model.packaging import save_model
from model.provenance import git_commit, python_environment
from model.registry import (
    CHALLENGER,
    HOLDOUT_ARTIFACT,
    MODEL_ARTIFACT_PATH,
    TAG_DATASET_HASH,
    TAG_GIT_COMMIT,
    TAG_METRIC_PREFIX,
    register_version,
)
from model.store import Store
from model.training import Split, TrainingConfig, fit, split
from model.validation import validate


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
    run_id, model_source = _log_run(
        store, store.ensure_experiment(model_name), dataset, config, parts, pipeline, evaluation,
        {TAG_DATASET_HASH: data_hash, TAG_GIT_COMMIT: commit}, progress,
    )  # fmt: skip
    version = register_version(
        store,
        model_name,
        model_source,
        run_id,
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
    store: Store,
    experiment_id: str,
    dataset: Dataset,
    config: TrainingConfig,
    parts: Split,
    pipeline: Pipeline,
    evaluation: Evaluation,
    provenance_tags: dict[str, str],
    progress: Callable[[str], None],
) -> tuple[str, str]:
    """Log params, metrics, provenance, artifacts and the model; return (run id, model source).

    Only this store's client is used, never MLflow's process-wide fluent state, so callers in
    the same process (tests, the A/B command) keep their own tracking URIs.
    """
    client = store.client
    run = client.create_run(
        experiment_id, tags={**provenance_tags, "python_version": platform.python_version()}
    )
    run_id = run.info.run_id
    try:
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, _now_ms(), 0) for k, v in evaluation.metrics.items()],
            params=[Param(k, str(v)) for k, v in _params(dataset, config).items()],
        )
        client.log_inputs(run_id, [_dataset_input(dataset)])
        client.log_dict(run_id, evaluation.confusion_artifact(), "evaluation/confusion_matrix.json")
        client.log_text(run_id, python_environment(), "environment/pip-freeze.txt")
        with tempfile.TemporaryDirectory() as scratch:
            holdout = Path(scratch) / Path(HOLDOUT_ARTIFACT).name
            parts.x_test.assign(**{dataset.schema.target.name: parts.y_test}).to_parquet(
                holdout, index=False
            )
            client.log_artifact(run_id, str(holdout), str(Path(HOLDOUT_ARTIFACT).parent))
            progress("logging the model to MLflow")
            model_dir = Path(scratch) / MODEL_ARTIFACT_PATH
            drift_reference = save_model(
                pipeline, parts.x_train, dataset.schema.target.name, run_id, model_dir
            )
            client.log_artifacts(run_id, str(model_dir), MODEL_ARTIFACT_PATH)
        client.log_dict(run_id, drift_reference, "drift_reference.json")
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id)
    return run_id, f"{run.info.artifact_uri}/{MODEL_ARTIFACT_PATH}"


def _params(dataset: Dataset, config: TrainingConfig) -> dict[str, Any]:
    return {
        "estimator": config.estimator,
        **{f"estimator.{k}": v for k, v in config.estimator_params().items()},
        "seed": config.seed,
        "test_size": config.test_size,
        "dataset.name": dataset.schema.name,
        "dataset.source": dataset.source,
        "dataset.rows": len(dataset.frame),
    }


def _dataset_input(dataset: Dataset) -> DatasetInput:
    """The training table as an MLflow dataset input (name, digest, source, schema, profile)."""
    described = mlflow.data.from_pandas(
        dataset.frame,
        source=dataset.source,
        name=dataset.schema.name,
        targets=dataset.schema.target.name,
    )
    return DatasetInput(
        MlflowDataset(**described.to_dict()), [InputTag(MLFLOW_DATASET_CONTEXT, "training")]
    )


def _now_ms() -> int:
    return int(time.time() * 1000)
