"""The environment a training Job's process gets here: the test's MLflow server instead of the
in-cluster one, no ambient MLflow settings, and whatever credentials the fixture's server needs
(from the environment the suite runs in)."""

import os


def mlflow_env(tracking_uri: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    credentials = {
        key: os.environ[key]
        for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
        if key in os.environ
    }
    return {**env, **credentials, "MLFLOW_TRACKING_URI": tracking_uri}
