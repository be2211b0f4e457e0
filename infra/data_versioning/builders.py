"""Pure builders: the training Job's data-version arguments and its DVC remote environment."""

from infra.data_versioning.config import DataVersion

MLFLOW_ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
"""MLflow's proxied artifact API (mlflow 3.17.2 `mlflow/server/handlers.py`,
`_add_static_prefix("/api/2.0/mlflow-artifacts/artifacts/<path:artifact_path>")`)."""
REMOTE_URL_ENV = "MODEL_DVC_REMOTE_URL"
"""Read by model/versioned_data.py; the login comes from MLFLOW_TRACKING_USERNAME/_PASSWORD."""


def dvc_remote_url(tracking_uri: str, remote_path: str) -> str:
    """The DVC http remote inside MLflow's artifact store."""
    return f"{tracking_uri.rstrip('/')}{MLFLOW_ARTIFACTS_API}/{remote_path}"


def data_version_args(data: DataVersion) -> list[str]:
    """`python -m model train` arguments that pull this data version and skip an unchanged one."""
    return ["--data-repo", data.repo, "--data-rev", data.rev, "--skip-unchanged"]


GIT_EGRESS_POLICY = "model-training-to-git"


def git_egress_policy(namespace: str, training_pods: dict[str, str]) -> dict:
    """The NetworkPolicy (added to the namespace's default deny) that lets training pods fetch
    `.dvc` files from the Git host over HTTPS; its address is outside the cluster and unknown at
    render time, so it is allowed by port alone, as the API server is for the trigger."""
    return {
        "metadata": {"name": GIT_EGRESS_POLICY, "namespace": namespace},
        "spec": {
            "podSelector": {"matchLabels": training_pods},
            "policyTypes": ["Egress"],
            "egress": [{"ports": [{"protocol": "TCP", "port": 443}]}],
        },
    }
