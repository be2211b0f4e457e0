"""Datasets versioned with DVC: read through ``dvc.api`` at a Git revision, with their version.

A data version is the DVC content hash (``md5`` in the ``.dvc`` file; DVC 3 hashes a file's raw
bytes) and the Git commit the ``.dvc`` file was read at. Without a revision the working tree is
read, and when its bytes differ from the committed ``.dvc`` file the version says so
(``git_rev`` ends in ``+workspace``): such data can be trained on but not re-fetched later.

The remote is the repository's default (``.dvc/config``) unless ``MODEL_DVC_REMOTE_URL`` names
the stack's (``dvcRemote`` in the stack file, set on the training Job). Its credentials come
from the environment only: for an ``http(s)`` remote (MLflow's proxied artifact API) the MLflow
login ``MLFLOW_TRACKING_USERNAME``/``_PASSWORD``, for ``s3://`` the AWS variables s3fs reads.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from model.errors import ConfigurationError
from model.locations import REPO_ROOT

REMOTE_URL_ENV = "MODEL_DVC_REMOTE_URL"
STACK_REMOTE = "platform"
"""The name the stack's remote gets when ``MODEL_DVC_REMOTE_URL`` is set."""
WORKSPACE_SUFFIX = "+workspace"


@dataclass(frozen=True)
class DataVersion:
    """Which bytes a run trained on: DVC's md5, the Git commit of the ``.dvc`` file, where."""

    path: str
    md5: str
    git_rev: str
    repo: str

    @property
    def committed(self) -> bool:
        return not self.git_rev.endswith(WORKSPACE_SUFFIX)

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def remote_settings() -> dict[str, Any]:
    """``dvc.api`` keyword arguments for the stack's remote, or none for the repository's own."""
    url = os.environ.get(REMOTE_URL_ENV, "").strip()
    if not url:
        return {}
    remote: dict[str, Any] = {"url": url}
    if url.startswith(("http://", "https://")):
        # MLflow's artifact API takes uploads as PUT (mlflow/server/handlers.py,
        # _upload_artifact) behind the platform's basic auth.
        remote["method"] = "PUT"
        user = os.environ.get("MLFLOW_TRACKING_USERNAME")
        if user:
            remote |= {
                "auth": "basic",
                "user": user,
                "password": os.environ.get("MLFLOW_TRACKING_PASSWORD", ""),
            }
    return {"remote": STACK_REMOTE, "remote_config": remote}


def read_versioned(
    path: str, repo: str | None = None, rev: str | None = None
) -> tuple[bytes, DataVersion]:
    """The bytes of DVC-tracked ``path`` in ``repo`` (default: this repository) at ``rev``
    (default: the working tree), and their version. Fails naming the path and the remote when
    the data is in neither the cache nor the remote."""
    import dvc.api
    from dvc.exceptions import DvcException

    location = repo or str(REPO_ROOT)
    settings = remote_settings()
    pointer = committed_version(path, repo, rev)
    try:
        with dvc.api.open(path, repo=location, rev=rev, mode="rb", **settings) as stream:
            data = stream.read()
    except (DvcException, OSError) as exc:
        remote = settings.get("remote_config", {}).get("url", "the repository's default remote")
        raise ConfigurationError(
            f"cannot fetch DVC-tracked {path} (md5 {pointer.md5}) at "
            f"{rev or 'the working tree'} of {location}: it is in neither the local DVC cache "
            f"nor {remote} ({exc}); push it from where it was added (`dvc push`) or check "
            f"{REMOTE_URL_ENV}"
        ) from exc
    md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
    if md5 == pointer.md5:
        return data, pointer
    base = pointer.git_rev.removesuffix(WORKSPACE_SUFFIX)
    return data, DataVersion(path, md5, base + WORKSPACE_SUFFIX, pointer.repo)


def committed_version(path: str, repo: str | None, rev: str | None) -> DataVersion:
    """The version ``<path>.dvc`` names at ``rev`` (the working tree when None), data unread;
    a ConfigurationError, with DVC's reason, when there is no such DVC file."""
    location = repo or str(REPO_ROOT)
    settings = remote_settings()
    md5 = _pointer_md5(path, location, rev, settings)
    commit = _commit(location, rev, settings)
    if rev is None and _pointer_modified(path, location):
        commit += WORKSPACE_SUFFIX
    return DataVersion(path=path, md5=md5, git_rev=commit, repo=repo or ".")


def _pointer_md5(path: str, repo: str, rev: str | None, settings: dict[str, Any]) -> str:
    """The md5 the ``.dvc`` file records (a file output: ``outs[0].md5``)."""
    import dvc.api
    from dvc.exceptions import DvcException

    pointer = f"{path}.dvc"
    try:
        recorded = yaml.safe_load(dvc.api.read(pointer, repo=repo, rev=rev, **settings))
        return str(recorded["outs"][0]["md5"])
    except (DvcException, OSError, KeyError, IndexError, TypeError) as exc:
        raise ConfigurationError(
            f"{pointer} is not a DVC file at {rev or 'the working tree'} of {repo}: track the "
            f"dataset with `dvc add {path}` and commit {pointer} ({exc})"
        ) from exc


def _commit(repo: str, rev: str | None, settings: dict[str, Any]) -> str:
    from dvc.repo import Repo

    with Repo.open(repo, rev=rev, uninitialized=True, **settings) as opened:
        return str(opened.get_rev() if rev else opened.scm.get_rev())


def _pointer_modified(path: str, repo: str) -> bool:
    """Whether the working tree's ``.dvc`` file differs from HEAD's (a local repository)."""
    if not Path(repo).is_dir():
        return False
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all", "--", f"{path}.dvc"],
        cwd=repo, capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    return bool(changed.stdout.strip())
