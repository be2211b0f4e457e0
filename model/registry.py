"""Registry operations: aliases, versions and their tags, fetching a registered version's parts.

The names and tag keys themselves are in ``model.conventions``.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    ErrorCode,
)

from model.conventions import (
    HOLDOUT_ARTIFACT,
    NO_VERSION,
    TAG_GATE_CHAMPION,
    TAG_GATE_PASSED,
    TAG_GATE_VERDICT,
)
from model.errors import LifecycleError
from model.store import Store

# What the registry answers for a model or alias it does not have (REST and SQL stores alike);
# anything else, e.g. an unreachable server, is an error and is raised.
_NOT_FOUND = {ErrorCode.Name(RESOURCE_DOES_NOT_EXIST), ErrorCode.Name(INVALID_PARAMETER_VALUE)}


def alias_version(store: Store, model_name: str, alias: str) -> str | None:
    """The version an alias points at, or None when the alias (or the model) does not exist."""
    try:
        return str(store.client.get_model_version_by_alias(model_name, alias).version)
    except MlflowException as exc:
        if exc.error_code in _NOT_FOUND:
            return None
        raise


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


def latest_version(store: Store, model_name: str) -> tuple[str, dict[str, str]] | None:
    """The newest registered version of ``model_name`` and its tags, or None if it has none."""
    found = store.client.search_model_versions(f"name = '{model_name}'")
    if not found:
        return None
    newest = max(found, key=lambda version: int(version.version))
    return str(newest.version), dict(newest.tags)


def version_tags(store: Store, model_name: str, version: str) -> dict[str, str]:
    return dict(store.client.get_model_version(model_name, version).tags)


def set_version_tags(store: Store, model_name: str, version: str, tags: dict[str, str]) -> None:
    for key, value in tags.items():
        store.client.set_model_version_tag(model_name, version, key, value)


def load_version(store: Store, model_name: str, version: str) -> Any:
    """The fitted estimator (a Pipeline) of a registered version, fetched through MLflow alone."""
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


def recorded_thresholds(store: Store, model_name: str, version: str) -> dict[str, Any]:
    """The gate thresholds the version was last judged with (its spec's at training), or {}."""
    recorded = version_tags(store, model_name, version).get(TAG_GATE_VERDICT)
    return json.loads(recorded)["thresholds"] if recorded else {}


def gate_tags(verdict: dict[str, Any]) -> dict[str, str]:
    """The version tags that record a gate verdict."""
    return {
        TAG_GATE_PASSED: str(verdict["passed"]).lower(),
        TAG_GATE_CHAMPION: verdict["champion_version"] or NO_VERSION,
        TAG_GATE_VERDICT: json.dumps(verdict, separators=(",", ":")),
    }
