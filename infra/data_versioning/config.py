"""Stack keys of versioned data: where DVC keeps objects, and a deployment's data version.

`dvcRemotePath` is a folder of MLflow's proxied artifact store under an experiment id (MLflow's
basic-auth judges a proxied artifact by the experiment leading its path and refuses non-admins
a path without one, docs/continuous-training.md; `0` is the Default experiment). Every stack's
DVC remote is `<MLflow URL>/api/2.0/mlflow-artifacts/artifacts/<dvcRemotePath>`: an http
remote, basic auth with the stack's MLflow logins, uploads as PUT (tested in
tests/model/test_model_versioned_data.py). MLflow keeps it where it keeps every artifact: the
volume on local and dev, and on prod the S3 bucket (`artifactBucket`, under
`artifacts/<dvcRemotePath>`, infra/mlflow/component.py), so prod's data lives in S3 and nobody
needs a second set of credentials.
"""

from typing import Annotated

from pydantic import Field, StringConstraints

from infra.config_types import CamelModel, ObjectConfig

DVC_REMOTE_PATH_PATTERN = r"^[0-9]+(/[a-z0-9][a-z0-9_\-]*)+$"

GitRevision = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/\-]{0,199}$")]
"""A commit, tag or branch (`git check-ref-format` subset: no spaces, '..', '~', '^', ':')."""

GitRepository = Annotated[
    str, StringConstraints(pattern=r"^https://[A-Za-z0-9.\-]+(:[0-9]+)?/[A-Za-z0-9._~/\-]+$")
]
"""The HTTPS URL of the Git repository whose `.dvc` files name the data (no credentials)."""


class DataVersioningConfig(CamelModel):
    """Top-level stack keys of versioned data."""

    dvc_remote_path: str = Field(default="0/dvc", pattern=DVC_REMOTE_PATH_PATTERN)
    """The artifact-store folder holding DVC's objects (`files/md5/..`)."""


class DataVersion(ObjectConfig):
    """`training.data` of a deployment: the Git revision of the repository whose `.dvc` file
    (the spec's `dataset.dvc`, model/specs/) names the data the training Job pulls. A branch
    moves: each scheduled run then trains on its newest data version, or skips when its hash is
    the latest registered version's; a tag or commit pins one."""

    repo: GitRepository
    rev: GitRevision
