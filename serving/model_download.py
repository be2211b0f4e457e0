"""Resolve a registered version and download it: `python -m serving.model_download NAME VERSION
ALIAS` (one of VERSION, ALIAS empty), run by model_source in a child process.

Prints one JSON line: {"local_dir": ..., "version": ...}, or {"error": ...} with exit status 2.
MLflow's client reads MLFLOW_TRACKING_URI and the serving user's credentials from the
environment; its HTTP calls are bounded by the image's MLFLOW_HTTP_REQUEST_* settings.
"""

import json
import sys
import tempfile


def main(name: str, version: str, alias: str) -> int:
    """Download models:/NAME/VERSION (or @ALIAS); the exit status."""
    from mlflow import MlflowClient
    from mlflow.artifacts import download_artifacts
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    try:
        if alias:
            version = client.get_model_version_by_alias(name, alias).version
        else:
            version = client.get_model_version(name, version).version
        local_dir = download_artifacts(
            artifact_uri=f"models:/{name}/{version}",
            dst_path=tempfile.mkdtemp(prefix=f"{name}-{version}-"),
        )
    except (MlflowException, OSError) as error:  # requests' errors are OSErrors
        detail = error.message if isinstance(error, MlflowException) else repr(error)
        print(json.dumps({"error": detail}))
        return 2
    print(json.dumps({"local_dir": local_dir, "version": str(version)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
