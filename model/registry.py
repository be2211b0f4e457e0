"""Registry conventions: aliases, version tags, and fetching a registered version's parts."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode
from sklearn.pipeline import Pipeline

from model.errors import LifecycleError
from model.store import Store

DEFAULT_MODEL_NAME = "iris"
CHAMPION = "champion"
CHALLENGER = "challenger"
HOLDOUT_ARTIFACT = "evaluation/holdout.parquet"
MODEL_ARTIFACT_PATH = "model"

TAG_DATASET_HASH = "dataset_hash"
TAG_GIT_COMMIT = "git_commit"
TAG_METRIC_PREFIX = "metric."
TAG_GATE_PASSED = "gate.passed"
TAG_GATE_CHAMPION = "gate.champion_version"
TAG_GATE_VERDICT = "gate.verdict"
NO_VERSION = "none"


def alias_version(store: Store, model_name: str, alias: str) -> str | None:
    """The version an alias points at, or None when the alias (or the model) does not exist."""
    try:
        return str(store.client.get_model_version_by_alias(model_name, alias).version)
    except MlflowException:
        return None


def resolve_version(store: Store, model_name: str, version: str | None, alias: str) -> str:
    """An explicit version (checked to exist) or the version behind ``alias``."""
    if version is None:
        found = alias_version(store, model_name, alias)
        if found is None:
            raise LifecycleError(
                f"registered model {model_name!r} has no {alias!r} alias at {store.tracking_uri}; "
                "run `python -m model train` first or pass --version"
            )
        return found
    try:
        return str(store.client.get_model_version(model_name, str(version)).version)
    except MlflowException as exc:
        raise LifecycleError(
            f"registered model {model_name!r} has no version {version!r} at {store.tracking_uri}"
        ) from exc


def register_version(
    store: Store, model_name: str, source: str, run_id: str, tags: dict[str, str]
) -> str:
    """Register the model at ``source`` (an artifact of run ``run_id``) as a new version."""
    try:
        store.client.create_registered_model(model_name)
    except MlflowException as exc:
        if exc.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
            raise
    return str(store.client.create_model_version(model_name, source, run_id, tags=tags).version)


def version_tags(store: Store, model_name: str, version: str) -> dict[str, str]:
    return dict(store.client.get_model_version(model_name, version).tags)


def set_version_tags(store: Store, model_name: str, version: str, tags: dict[str, str]) -> None:
    for key, value in tags.items():
        store.client.set_model_version_tag(model_name, version, key, value)


def load_version(store: Store, model_name: str, version: str) -> Pipeline:
    """The fitted Pipeline of a registered version, fetched through MLflow alone."""
    source = store.client.get_model_version_download_uri(model_name, version)
    with tempfile.TemporaryDirectory() as scratch:
        return mlflow.sklearn.load_model(str(store.download(source, Path(scratch))))


def load_holdout(store: Store, model_name: str, version: str) -> pd.DataFrame:
    """The held-out rows (features and label) the version was evaluated on, from its run."""
    run_id = store.client.get_model_version(model_name, version).run_id
    if not run_id:
        raise LifecycleError(
            f"{model_name} version {version} has no training run to take held-out data from"
        )
    artifact = f"runs:/{run_id}/{HOLDOUT_ARTIFACT}"
    with tempfile.TemporaryDirectory() as scratch:
        try:
            return pd.read_parquet(store.download(artifact, Path(scratch)))
        except (MlflowException, OSError) as exc:
            raise LifecycleError(
                f"{model_name} version {version} has no held-out data ({artifact}); only versions "
                "registered by `python -m model train` can be gated"
            ) from exc


def gate_tags(verdict: dict[str, Any]) -> dict[str, str]:
    """The version tags that record a gate verdict."""
    return {
        TAG_GATE_PASSED: str(verdict["passed"]).lower(),
        TAG_GATE_CHAMPION: verdict["champion_version"] or NO_VERSION,
        TAG_GATE_VERDICT: json.dumps(verdict, separators=(",", ":")),
    }
