"""One training run: validate, fit, evaluate, log to MLflow, register, gate, then maybe alias.

``candidate`` moves only to a version that passed data validation, the schema check and its
gate; a failing version stays registered, tagged with its verdict, and unaliased.
"""

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
from mlflow.exceptions import MlflowException
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT
from sklearn.pipeline import Pipeline

from model.assessment import assess
from model.conventions import (
    CANDIDATE,
    DRIFT_REFERENCE_ARTIFACT,
    HOLDOUT_ARTIFACT,
    MODEL_ARTIFACT_PATH,
    TAG_METRIC_PREFIX,
    TAG_MODEL_DIGEST,
)
from model.data import Dataset, dataset_hash
from model.digest import model_digest
from model.drift_reference import DEFAULT_BINS
from model.evaluation import Evaluation, evaluate
from model.gate import GateThresholds, GateVerdict
from model.lineage import lineage_tags
from model.packaging import save_model
from model.promotion import record_candidate
from model.provenance import python_environment
from model.registry import register_version
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
    model_digest: str
    candidate: bool
    """Whether ``candidate`` now points at this version (only if the gate passed)."""

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
            "model_digest": self.model_digest,
            "candidate": self.candidate,
        }


def train_and_register(
    dataset: Dataset,
    config: TrainingConfig,
    thresholds: GateThresholds,
    store: Store,
    model_name: str,
    progress: Callable[[str], None],
    drift_bins: int = DEFAULT_BINS,
    spec: str | None = None,
) -> TrainingOutcome:
    """Validate, train, log to MLflow, register a version, gate it; alias it only if it passed."""
    progress(f"validating {dataset.source} against schema {dataset.schema.name!r}")
    validate(dataset)
    data_hash = dataset_hash(dataset.frame)
    parts = split(dataset.features, dataset.target, config)
    progress(f"training {config.estimator} on {len(parts.x_train)} rows (seed {config.seed})")
    pipeline = fit(config, parts.x_train, parts.y_train)
    evaluation = evaluate(pipeline, parts.x_test, parts.y_test, dataset.schema.target.classes)
    progress(f"held-out ({len(parts.x_test)} rows): {evaluation.headline()}")
    lineage = lineage_tags(dataset, data_hash, config, spec, drift_bins)
    logged = _log_run(
        store, store.ensure_experiment(model_name), dataset, config, parts, pipeline, evaluation,
        lineage, progress, drift_bins,
    )  # fmt: skip
    version = register_version(
        store,
        model_name,
        logged.model_source,
        logged.run_id,
        {
            **lineage,
            TAG_MODEL_DIGEST: logged.digest,
            **{f"{TAG_METRIC_PREFIX}{k}": f"{v:.6f}" for k, v in evaluation.metrics.items()},
        },
    )
    progress(f"registered {model_name} version {version} ({logged.digest}); gating it")
    verdict = assess(store, model_name, version, thresholds)
    if verdict.passed:
        evidence = {"gate": verdict.summary(), "model_digest": logged.digest,
                    "dataset_hash": data_hash, "run_id": logged.run_id}  # fmt: skip
        entry = record_candidate(store, model_name, version, evidence)
        progress(f"gate passed; alias {CANDIDATE!r} -> {version} (ledger #{entry.sequence})")
    else:
        progress(
            f"gate FAILED; version {version} is tagged with its verdict, {CANDIDATE!r} unmoved"
        )
    return TrainingOutcome(
        model_name=model_name,
        version=version,
        run_id=logged.run_id,
        tracking_uri=store.tracking_uri,
        metrics=evaluation.metrics,
        gate=verdict,
        dataset_hash=data_hash,
        model_digest=logged.digest,
        candidate=verdict.passed,
    )


@dataclass(frozen=True)
class _LoggedRun:
    run_id: str
    model_source: str
    digest: str


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
    drift_bins: int,
) -> _LoggedRun:
    """Log params, metrics, provenance, artifacts and the model (digested before upload).

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
        confusion = evaluation.confusion_artifact()
        if confusion is not None:
            client.log_dict(run_id, confusion, "evaluation/confusion_matrix.json")
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
                pipeline, parts.x_train, dataset.schema.target.name, run_id, model_dir, drift_bins
            )
            digest = model_digest(model_dir)
            client.log_artifacts(run_id, str(model_dir), MODEL_ARTIFACT_PATH)
        client.log_dict(run_id, drift_reference, DRIFT_REFERENCE_ARTIFACT)
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id)
    return _LoggedRun(run_id, f"{run.info.artifact_uri}/{MODEL_ARTIFACT_PATH}", digest)


def _params(dataset: Dataset, config: TrainingConfig) -> dict[str, Any]:
    return {
        "estimator": config.estimator,
        **{f"estimator.{k}": v for k, v in config.estimator_params().items()},
        "seed": config.seed,
        "test_size": config.test_size,
        "dataset.name": dataset.schema.name,
        "dataset.source": dataset.source,
        "dataset.rows": len(dataset.frame),
        "model_kind": config.kind,
    }


def _dataset_input(dataset: Dataset) -> DatasetInput:
    """The training table as an MLflow dataset input (name, digest, source, schema, profile).

    MLflow resolves only some source kinds (paths, ``s3://``...); for the others (``runs:/``,
    ``mlflow-artifacts:/``) the input has no source and the ``dataset_uri`` tag says where from.
    """
    try:
        described = mlflow.data.from_pandas(
            dataset.frame,
            source=dataset.source,
            name=dataset.schema.name,
            targets=dataset.schema.target.name,
        )
    except MlflowException:
        described = mlflow.data.from_pandas(
            dataset.frame, name=dataset.schema.name, targets=dataset.schema.target.name
        )
    return DatasetInput(
        MlflowDataset(**described.to_dict()), [InputTag(MLFLOW_DATASET_CONTEXT, "training")]
    )


def _now_ms() -> int:
    return int(time.time() * 1000)
