"""What the serving identity may read: the registered-model versions the stack serves and their
artifacts, nothing else. Part of the platform auth app (`mlflow_platform_auth.py`).

The list is a JSON file the platform renders from the stack's pin file (`pins.<stack>.yaml`:
every predictor's pinned version, so the shadow's and the champion it compares with, which the
batch scoring CronJob also loads), a ConfigMap mounted into MLflow
(`MLFLOW_PLATFORM_SERVED_VERSIONS` names it), read on every request so a new list applies
without a restart:

  {"versions": [{"model": "iris", "version": "3"}, {"model": "wine", "version": "1"}]}

It holds versions, never aliases: a pod loads `models:/<name>/<pinned version>`, and an alias the
gate moves (a new `candidate`) opens nothing until a reviewed change pins its version. An alias
read (`registered-models/alias`) is answered only when the alias points, at that moment, at a
listed version.

A version's artifacts are found at request time through MLflow's own registry store (the
version's download URI, `mlflow-artifacts:/<path>` when the server proxies artifacts), so the
serving identity downloads exactly the files of the versions in the list. Imports only MLflow
and the standard library: it runs in MLflow's image.
"""

from __future__ import annotations

import json
import os
import posixpath
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

SERVED_VERSIONS_ENV = "MLFLOW_PLATFORM_SERVED_VERSIONS"
REGISTERED_MODEL_GET = "/mlflow/registered-models/get"
"""Answered for a served model only, with its other versions and aliases cut out of the body
(MLflow's client reads it before every version, `MlflowClient._raise_if_prompt`)."""
VERSION_READS = frozenset({"/mlflow/model-versions/get", "/mlflow/model-versions/get-download-uri"})
ALIAS_READ = "/mlflow/registered-models/alias"
ARTIFACT_LIST = "/mlflow-artifacts/artifacts"
ARTIFACT_FILE_PREFIX = "/mlflow-artifacts/artifacts/"
OPEN_READS = frozenset(
    {"/mlflow/users/current", "/mlflow/users/current/permissions", "/mlflow/server-info"}
)
"""Who am I, and the server's features (the client asks before downloading): nothing of
anyone else's."""
READ_METHODS = frozenset({"GET", "HEAD"})
PROXIED_SCHEME = "mlflow-artifacts"


class ServedVersionsError(RuntimeError):
    """The served-versions list cannot be read; the serving identity then reads nothing."""


@dataclass(frozen=True)
class ServedVersions:
    """Registered model name -> the versions served now."""

    versions: dict[str, frozenset[str]]

    @classmethod
    def load(cls) -> ServedVersions:
        """The list named by `MLFLOW_PLATFORM_SERVED_VERSIONS`."""
        path = os.environ.get(SERVED_VERSIONS_ENV, "")
        if not path:
            raise ServedVersionsError(f"{SERVED_VERSIONS_ENV} is unset")
        try:
            entries = json.loads(Path(path).read_text())["versions"]
            pairs = [(str(entry["model"]), str(entry["version"])) for entry in entries]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ServedVersionsError(f"served-versions list {path}: {error!r}") from error
        versions: dict[str, set[str]] = {}
        for name, version in pairs:
            versions.setdefault(name, set()).add(version)
        return cls({name: frozenset(found) for name, found in versions.items()})

    def serves(self, name: str | None, version: str | None) -> bool:
        return version is not None and version in self.versions.get(name or "", ())

    def artifact_roots(self) -> list[str]:
        """The proxied artifact paths (`<experiment>/<run>/artifacts/model`) of every served
        version, as MLflow's registry store gives them."""
        store = _registry()
        roots = []
        for name, versions in self.versions.items():
            for version in versions:
                location = urlparse(store.get_model_version_download_uri(name, version))
                if location.scheme == PROXIED_SCHEME:
                    roots.append(location.path.strip("/"))
        return roots

    def holds_artifact(self, path: str) -> bool:
        """Whether `path` (relative to the artifact proxy's root) is a served version's file."""
        if not path or any(part in ("", ".", "..") for part in path.strip("/").split("/")):
            return False
        normal = posixpath.normpath(path.strip("/"))
        return any(
            normal == root or normal.startswith(root + "/") for root in self.artifact_roots()
        )


def _registry():
    from mlflow.server.handlers import _get_model_registry_store

    return _get_model_registry_store()


def _alias_target(name: str | None, alias: str | None) -> str | None:
    """The version `alias` of `name` points to now, None when either does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        return str(_registry().get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def serving_denial(method: str, route: str, params: dict[str, str]) -> str | None:
    """Why the serving identity may not call `method route` with query `params`, or None."""
    if method not in READ_METHODS:
        return f"the serving identity only reads served versions ({method} {route})"
    if route in OPEN_READS:
        return None
    try:
        served = ServedVersions.load()
    except ServedVersionsError as error:
        return f"no served version can be read: {error}"
    name = params.get("name")
    if route in VERSION_READS:
        allowed = served.serves(name, params.get("version"))
    elif route == ALIAS_READ:
        allowed = served.serves(name, _alias_target(name, params.get("alias")))
    elif route == REGISTERED_MODEL_GET:
        allowed = name in served.versions
    elif route == ARTIFACT_LIST:
        allowed = served.holds_artifact(params.get("path", ""))
    elif route.startswith(ARTIFACT_FILE_PREFIX):
        allowed = served.holds_artifact(route[len(ARTIFACT_FILE_PREFIX) :])
    else:
        return f"the serving identity reads only served versions, not {route}"
    return None if allowed else f"{route} with {params} is not a read of a served version"
