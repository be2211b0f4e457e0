"""The training Job's first step: bring the deployment's declared dataset to a local file.

A dataset is declared as a URI under the platform's artifact store, `mlflow-artifacts:/<path>`,
read through MLflow's proxied artifact API with the pipeline user's credentials
(`MLFLOW_TRACKING_URI`, `MLFLOW_TRACKING_USERNAME`/`_PASSWORD`, which the MLflow client reads
itself). The file's SHA-256 is printed, so the Job's log names exactly what it trained on; the
training run logs the table's own content hash (`model train`).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

from mlflow.artifacts import download_artifacts

SCHEME = "mlflow-artifacts:/"


class DatasetError(ValueError):
    """A dataset URI this step cannot read."""


def fetch_dataset(uri: str, destination: Path) -> dict[str, str]:
    """Download `uri` to `destination`; return the URI, the file and its sha256."""
    if not uri.startswith(SCHEME) or uri.endswith("/") or len(uri) == len(SCHEME):
        raise DatasetError(
            f"dataset {uri!r} is not a file under the artifact store; expected "
            f"{SCHEME}<path>/<file>.csv|.parquet (e.g. {SCHEME}datasets/iris.csv)"
        )
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination.parent) as scratch:
        local = Path(download_artifacts(artifact_uri=uri, dst_path=scratch))
        if not local.is_file():
            raise DatasetError(f"dataset {uri!r} is a directory, expected a single file")
        shutil.move(local, destination)
    digest = hashlib.sha256(destination.read_bytes()).hexdigest()
    result = {"dataset": uri, "file": str(destination), "sha256": digest}
    print(json.dumps(result, sort_keys=True), flush=True)
    return result
