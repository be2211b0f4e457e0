"""What a run and its registered version record about their inputs, and reading it back.

Data (the dataset hash, URI and bytes' SHA-256; for a DVC-tracked file its md5, the Git commit
of its ``.dvc`` file, path and repository), code (the Git commit), the seed, the environment
(installed versions' hash and the lock file's) and the training configuration ``reproduce``
re-runs. Tag names are in ``model.conventions``; the older ones keep their names.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from model.conventions import (
    TAG_DATA_GIT_REV,
    TAG_DATA_MD5,
    TAG_DATA_PATH,
    TAG_DATA_REPO,
    TAG_DATASET_CONTENT_SHA256,
    TAG_DATASET_HASH,
    TAG_DATASET_URI,
    TAG_ENVIRONMENT,
    TAG_GIT_COMMIT,
    TAG_LOCK,
    TAG_SEED,
    TAG_TRAINING_CONFIG,
)
from model.data import Dataset
from model.errors import LifecycleError
from model.provenance import environment_sha256, git_commit, lock_file_sha256
from model.training import TrainingConfig
from model.versioned_data import DataVersion


def lineage_tags(
    dataset: Dataset, data_hash: str, config: TrainingConfig, spec: str | None, drift_bins: int
) -> dict[str, str]:
    """The tags every run and registered version carries."""
    recipe = {
        "spec": spec,
        "estimator": config.estimator,
        "params": config.params,
        "seed": config.seed,
        "test_size": config.test_size,
        "drift_bins": drift_bins,
    }
    version = dataset.data_version
    return {
        TAG_DATASET_HASH: data_hash,
        TAG_GIT_COMMIT: git_commit(),
        TAG_DATASET_URI: dataset.source,
        **({TAG_DATASET_CONTENT_SHA256: dataset.content_sha256} if dataset.content_sha256 else {}),
        **(
            {
                TAG_DATA_MD5: version.md5,
                TAG_DATA_GIT_REV: version.git_rev,
                TAG_DATA_PATH: version.path,
                TAG_DATA_REPO: version.repo,
            }
            if version
            else {}
        ),
        TAG_SEED: str(config.seed),
        TAG_ENVIRONMENT: environment_sha256(),
        TAG_LOCK: lock_file_sha256(),
        TAG_TRAINING_CONFIG: json.dumps(recipe, sort_keys=True, separators=(",", ":")),
    }


@dataclass(frozen=True)
class Recorded:
    """A registered version's inputs, read from its tags, as ``reproduce`` needs them."""

    code: str
    data: DataVersion
    recipe: dict[str, Any]
    environment: str
    lock: str
    digest: str

    @classmethod
    def from_tags(cls, label: str, tags: dict[str, str], digest_tag: str) -> Recorded:
        missing = [
            key
            for key in (TAG_GIT_COMMIT, TAG_DATA_MD5, TAG_DATA_GIT_REV, TAG_TRAINING_CONFIG)
            if not tags.get(key)
        ]
        if missing or not tags.get(digest_tag):
            raise LifecycleError(
                f"{label} does not record {', '.join(missing or [digest_tag])}: only versions "
                "trained on a DVC-tracked dataset by `python -m model train` can be reproduced"
            )
        return cls(
            code=tags[TAG_GIT_COMMIT],
            data=DataVersion(
                path=tags[TAG_DATA_PATH],
                md5=tags[TAG_DATA_MD5],
                git_rev=tags[TAG_DATA_GIT_REV],
                repo=tags.get(TAG_DATA_REPO, "."),
            ),
            recipe=json.loads(tags[TAG_TRAINING_CONFIG]),
            environment=tags.get(TAG_ENVIRONMENT, ""),
            lock=tags.get(TAG_LOCK, ""),
            digest=tags[digest_tag],
        )
