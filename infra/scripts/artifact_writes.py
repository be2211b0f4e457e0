"""Which artifact writes the platform allows beyond MLflow's grants. Part of the platform auth
app (`mlflow_platform_auth.py`).

- The request-log identity (`MLFLOW_PLATFORM_REQUEST_LOG_USERS`, the login of every serving
  namespace's sink, `python -m request_log`) calls only what the sink calls
  (`request_log/publish.py`): it uploads files under `0/request-logs/`, lists there, and deletes
  an expired `<namespace>/<deployment>/versions/<stamp>` directory. Nothing else: no other read,
  no registry, no run, no other artifact.
- The scoring identity (`MLFLOW_PLATFORM_SCORING_USERS`, the login of the batch-scoring
  CronJobs, `python -m model score`) reads what the serving identity reads (the served
  versions, `served_versions.py`: batch scoring loads a pinned version of the list), reads and
  lists files under `0/scoring/` (its inputs), and uploads files only under the declared output
  folders (`MLFLOW_PLATFORM_SCORING_OUTPUTS`); every run writes a new file, so the no-overwrite
  rule below holds for it too. Nothing else.
- Nobody but an admin uploads over a file that exists (a served version's model, the gate's
  evidence): a release user writes each artifact once. Existence is asked of MLflow's own
  artifact repository (`--artifacts-destination`) at request time. One file per deployment may
  be rewritten: `0/request-logs/<namespace>/<deployment>/labelled.parquet`, the newest export,
  which the sink replaces on every export; its written versions (`versions/<stamp>/`) stay as
  written. The check runs before the upload, so two concurrent first uploads of one new path
  both pass it; a file that exists is never replaced.

Paths are judged as MLflow's handlers resolve them (`validate_path_is_safe`, which decodes once
more, then `posixpath.normpath`), so an encoded or dotted path cannot slip past the prefix.
Workspaces are off on the platform, so a path is not workspace-scoped. Imports only MLflow and
the standard library: it runs in MLflow's image.
"""

from __future__ import annotations

import os
import posixpath
import re

from served_versions import ARTIFACT_FILE_PREFIX, ARTIFACT_LIST, READ_METHODS, serving_denial

REQUEST_LOGS = "0/request-logs"
"""Where the sink writes (`infra/request_logging/builders.py` DESTINATION, under the Default
experiment 0)."""
MULTIPART_WRITES = ("/mlflow-artifacts/mpu/create/", "/mlflow-artifacts/mpu/complete/")
"""Multipart uploads (an S3 store, files over MLflow's multipart threshold) also write a file."""
SCORING = "0/scoring"
"""Where batch scoring's inputs and outputs are (`infra/deployments/config.py`
`ScoringInputUri`, `ScoringOutputUri`)."""
SCORING_OUTPUTS_ENV = "MLFLOW_PLATFORM_SCORING_OUTPUTS"
EXPIRED_VERSION = re.compile(re.escape(REQUEST_LOGS) + r"/[^/]+/[^/]+/versions/[^/]+")
"""What the sink deletes: one written version of one deployment (`publish.py` retention)."""
NEWEST_EXPORT = re.compile(re.escape(REQUEST_LOGS) + r"/[^/]+/[^/]+/labelled\.parquet")
"""The one file the sink rewrites: a deployment's newest labelled export (`publish.py`)."""


def canonical_path(path: str) -> str | None:
    """`path` as MLflow's artifact handlers resolve it, None when MLflow would refuse it."""
    from mlflow.exceptions import MlflowException
    from mlflow.utils.uri import validate_path_is_safe

    try:
        safe = validate_path_is_safe(path)
    except MlflowException:
        return None
    return posixpath.normpath(safe).strip("/") if safe.strip("/") else None


def _under(folder: str, path: str | None) -> bool:
    return path is not None and path.startswith(folder + "/")


def _under_request_logs(path: str | None) -> bool:
    return _under(REQUEST_LOGS, path)


def request_log_denial(method: str, route: str, params: dict[str, str]) -> str | None:
    """Why the request-log identity may not call `method route` with query `params`, or None."""
    refused = f"the request-log identity only writes, lists and expires files under {REQUEST_LOGS}/"
    if route.startswith(ARTIFACT_FILE_PREFIX) and method in ("PUT", "DELETE"):
        path = canonical_path(route[len(ARTIFACT_FILE_PREFIX) :])
        if method == "DELETE" and not (path and EXPIRED_VERSION.fullmatch(path)):
            expired = f"{REQUEST_LOGS}/<namespace>/<deployment>/versions/<stamp>"
            return f"{refused}; it deletes only {expired}, not {path!r}"
    elif route == ARTIFACT_LIST and method == "GET":
        path = canonical_path(params.get("path", ""))
    else:
        return f"{refused} ({method} {route})"
    return None if _under_request_logs(path) else f"{refused}, not {path!r}"


def scoring_outputs() -> tuple[str, ...]:
    """The declared output folders, as `canonical_path` gives them."""
    declared = os.environ.get(SCORING_OUTPUTS_ENV, "").split(",")
    return tuple(filter(None, (canonical_path(folder.strip()) for folder in declared)))


def scoring_denial(method: str, route: str, params: dict[str, str]) -> str | None:
    """Why the scoring identity may not call `method route` with query `params`, or None (an
    upload still passes `overwrite_denial`)."""
    if route == ARTIFACT_LIST and method in READ_METHODS:
        path = canonical_path(params.get("path", ""))
    elif route.startswith(ARTIFACT_FILE_PREFIX) and method in (*READ_METHODS, "PUT"):
        path = canonical_path(route[len(ARTIFACT_FILE_PREFIX) :])
    else:
        return serving_denial(method, route, params)
    if method == "PUT":
        if any(_under(folder, path) for folder in scoring_outputs()):
            return None
        return f"the scoring identity writes only under the declared outputs, not {path!r}"
    if _under(SCORING, path):
        return None
    return serving_denial(method, route, params)


def _written_path(method: str, route: str) -> str | None:
    """The artifact file `method route` writes, None when it writes no artifact file."""
    if method == "PUT" and route.startswith(ARTIFACT_FILE_PREFIX):
        return route[len(ARTIFACT_FILE_PREFIX) :]
    if method == "POST":
        for prefix in MULTIPART_WRITES:
            if route.startswith(prefix):
                return route[len(prefix) :]
    return None


def _exists(path: str) -> bool:
    """Whether the server's artifact store holds a file at `path`."""
    from mlflow.server.handlers import _get_artifact_repo_mlflow_artifacts

    head, tail = posixpath.split(path)
    listing = _get_artifact_repo_mlflow_artifacts().list_artifacts(head or None)
    return any(not entry.is_dir and posixpath.basename(entry.path) == tail for entry in listing)


def overwrite_denial(method: str, route: str) -> str | None:
    """Why `method route` may not write, or None: it would replace a file that exists, other
    than a deployment's newest request-log export."""
    written = _written_path(method, route)
    if written is None:
        return None
    path = canonical_path(written)
    if path is None or NEWEST_EXPORT.fullmatch(path):  # unsafe: MLflow refuses it itself
        return None
    if _exists(path):
        return (
            f"artifact {path} exists and is never overwritten (a served version or its evidence "
            f"could be replaced); write a new path. Only {REQUEST_LOGS}/<namespace>/<deployment>"
            "/labelled.parquet is rewritten"
        )
    return None
