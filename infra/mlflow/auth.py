"""Who may do what in MLflow: the basic-auth app's configuration and the declared users.

Pure data (no Pulumi), shared by the MLflow component and the tests, so the test server is
configured exactly as the deploy configures it. `infra/scripts/mlflow_access.py` applies it.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from infra.deployments.config import DeploymentConfig

DEFAULT_PERMISSION = "NO_PERMISSIONS"
"""What a logged-in user may do on a resource nobody granted them: nothing."""
REQUEST_LOG_EXPERIMENT = "Default"
"""The experiment (id 0, MLflow's own) whose artifact root holds the request logs and batch
scoring's input and output files."""
AUTH_CACHE_TTL_S = 60
"""How long MLflow's basic-auth app remembers a verified login (mlflow 3.17.2
`auth/__init__.py` `_authenticate_cached`; off by default). Without it every request pays the
password hash (werkzeug's scrypt, 74 ms of CPU here) several times: `sender_is_admin` and the
permission checks authenticate again. The cache holds an HMAC of the password under a per-process
key, so only a correct password hits it, and a wrong one always pays the hash. What the cache
costs: a user deleted or re-passworded through MLflow's API by the admin keeps working for at
most this long on the server processes that did not handle the change. Rotating a platform
login changes the pod-template checksum, so the servers restart with an empty cache."""

ACCESS_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "mlflow_access.py"
AUTH_APP_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "mlflow_platform_auth.py"
SERVED_VERSIONS_SCRIPT = AUTH_APP_SCRIPT.with_name("served_versions.py")
"""The auth app's serving-identity rule, a second module beside it."""
ARTIFACT_WRITES_SCRIPT = AUTH_APP_SCRIPT.with_name("artifact_writes.py")
"""The auth app's artifact-write rules (the request-log and scoring identities, no overwrite),
a third."""
AUTH_APP_NAME = "platform-auth"
"""`mlflow server --app-name platform-auth`: basic-auth plus the platform's write rules."""
RELEASE_USERS_ENV = "MLFLOW_PLATFORM_RELEASE_USERS"
"""The users the rules let write (the pipeline user): read by `mlflow_platform_auth.py`."""
SERVING_USERS_ENV = "MLFLOW_PLATFORM_SERVING_USERS"
"""The users that read only the served versions (the serving user)."""
REQUEST_LOG_USERS_ENV = "MLFLOW_PLATFORM_REQUEST_LOG_USERS"
"""The users that only write the request logs under `0/request-logs/` (the request-log user)."""
SCORING_USERS_ENV = "MLFLOW_PLATFORM_SCORING_USERS"
"""The users that read the served versions and the files under `0/scoring/` and write only
under the declared scoring outputs (the scoring user: the batch-scoring CronJobs)."""
SCORING_OUTPUTS_ENV = "MLFLOW_PLATFORM_SCORING_OUTPUTS"
"""The declared output folders of batch scoring (`scoring_outputs`), comma-separated."""
SERVED_VERSIONS_ENV = "MLFLOW_PLATFORM_SERVED_VERSIONS"
"""Path of the served-versions list (`served_versions_json`) in the server's container."""

PASSWORD_ENV = {
    "serving": "MLFLOW_SERVING_PASSWORD",
    "pipeline": "MLFLOW_PIPELINE_PASSWORD",
    "reader": "MLFLOW_READER_PASSWORD",
    "request-log": "MLFLOW_REQUEST_LOG_PASSWORD",
    "scoring": "MLFLOW_SCORING_PASSWORD",
}
"""Environment variable carrying each role's password into the access script."""


def platform_rules_env(
    *,
    pipeline: str,
    serving: str,
    request_log: str,
    scoring: str,
    scoring_outputs: Iterable[str],
    served_versions_path: str,
) -> dict[str, str]:
    """What the platform auth app reads from its environment: who each narrow identity is, the
    declared scoring outputs and where the served-versions list is. The deploy and the tests'
    server both take it from here."""
    return {
        RELEASE_USERS_ENV: pipeline,
        SERVING_USERS_ENV: serving,
        REQUEST_LOG_USERS_ENV: request_log,
        SCORING_USERS_ENV: scoring,
        SCORING_OUTPUTS_ENV: ",".join(scoring_outputs),
        SERVED_VERSIONS_ENV: served_versions_path,
    }


def basic_auth_ini(database_uri: str, admin_username: str) -> str:
    """The `basic_auth.ini` of `mlflow server --app-name basic-auth` (MLFLOW_AUTH_CONFIG_PATH).

    Keys as read by mlflow 3.17.2 `mlflow/server/auth/config.py` (`read_auth_config`). No
    `admin_password`: the admin's password comes from MLFLOW_AUTH_ADMIN_PASSWORD, so the file
    holds only the database URI's secret. MLflow 3.17 ships no default admin password and
    refuses `password1234` for an admin (`_is_disabled_legacy_admin_login`).
    """
    return (
        "[mlflow]\n"
        f"default_permission = {DEFAULT_PERMISSION}\n"
        f"database_uri = {database_uri.replace('%', '%%')}\n"
        f"admin_username = {admin_username}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        "grant_default_workspace_access = false\n"
        f"auth_cache_ttl_seconds = {AUTH_CACHE_TTL_S}\n"
    )


def auth_app_files() -> dict[str, str]:
    """The auth app as a package MLflow finds on PYTHONPATH: its module and a `.dist-info`
    declaring the `mlflow.app` entry point (`mlflow server` looks `--app-name` up among the
    `mlflow.app` entry points, mlflow 3.17.2 `mlflow/server/__init__.py` `_find_app`), so it
    runs in MLflow's own image from a mounted ConfigMap. Keys are paths under that directory."""
    module = AUTH_APP_SCRIPT.stem
    dist_info = f"{module}-1.0.dist-info"
    return {
        f"{module}.py": AUTH_APP_SCRIPT.read_text(),
        SERVED_VERSIONS_SCRIPT.name: SERVED_VERSIONS_SCRIPT.read_text(),
        ARTIFACT_WRITES_SCRIPT.name: ARTIFACT_WRITES_SCRIPT.read_text(),
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n",
        f"{dist_info}/entry_points.txt": f"[mlflow.app]\n{AUTH_APP_NAME} = {module}:create_app\n",
    }


def write_auth_app(directory: Path) -> Path:
    """Write `auth_app_files()` under `directory` (the tests' PYTHONPATH entry)."""
    for relative, text in auth_app_files().items():
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return directory


@dataclass(frozen=True)
class MlflowUsers:
    """The non-admin users the platform declares and the registered models served."""

    serving: str
    pipeline: str
    reader: str
    request_log: str
    scoring: str
    served_models: tuple[str, ...]

    def access_spec(self) -> dict:
        """The access script's input: serving reads the served models and their training
        experiments (MLflow authorizes an artifact download by the experiment of the run that
        holds it, mlflow 3.17.2 `_authorize_artifact_proxy_resolved`), nothing else (the
        auth app narrows that to the served versions); the pipeline edits every experiment and
        registered model; the reader (the pin command, which pins aliases to versions not served
        yet) reads them all; the request-log user (the sinks) manages the Default experiment,
        where the request logs are (`0/request-logs/`): MLflow judges an artifact under an
        experiment by the experiment's grant, and deleting an expired version takes MANAGE
        (mlflow 3.17.2 `validate_can_delete_experiment_artifact_proxy`). The auth app lets it
        touch nothing but those files (`artifact_writes.py`); the scoring user (the batch-scoring
        CronJobs) holds the serving user's reads plus EDIT on the Default experiment, where its
        input and output files are (`0/scoring/`), and the auth app narrows that to the served
        versions, reads under `0/scoring/` and new files in the declared outputs."""
        served_reads = [
            {"resourceType": resource_type, "resource": name, "permission": "READ"}
            for name in sorted(set(self.served_models))
            for resource_type in ("registered_model", "experiment")
        ]
        return {
            "users": [
                {
                    "username": self.serving,
                    "passwordEnv": PASSWORD_ENV["serving"],
                    "grants": served_reads,
                },
                {
                    "username": self.pipeline,
                    "passwordEnv": PASSWORD_ENV["pipeline"],
                    "grants": [
                        {"resourceType": resource_type, "resource": "*", "permission": "EDIT"}
                        for resource_type in ("experiment", "registered_model")
                    ],
                },
                {
                    "username": self.reader,
                    "passwordEnv": PASSWORD_ENV["reader"],
                    "grants": [
                        {"resourceType": resource_type, "resource": "*", "permission": "READ"}
                        for resource_type in ("experiment", "registered_model")
                    ],
                },
                {
                    "username": self.request_log,
                    "passwordEnv": PASSWORD_ENV["request-log"],
                    "grants": [
                        {
                            "resourceType": "experiment",
                            "resource": REQUEST_LOG_EXPERIMENT,
                            "permission": "MANAGE",
                        }
                    ],
                },
                {
                    "username": self.scoring,
                    "passwordEnv": PASSWORD_ENV["scoring"],
                    "grants": [
                        *served_reads,
                        {
                            "resourceType": "experiment",
                            "resource": REQUEST_LOG_EXPERIMENT,
                            "permission": "EDIT",
                        },
                    ],
                },
            ]
        }

    def access_spec_json(self) -> str:
        return json.dumps(self.access_spec(), indent=2, sort_keys=True)


def served_versions_json(versions: Iterable[tuple[str, str]]) -> str:
    """The auth app's served-versions list from (registered model, version) pairs: the versions
    the stack's pin file declares (`served_versions.py` says how it is read)."""
    entries = sorted(set(versions))
    return json.dumps(
        {"versions": [{"model": model, "version": version} for model, version in entries]},
        indent=2,
    )


def served_model_names(deployments: Iterable[DeploymentConfig]) -> tuple[str, ...]:
    """The registered models the deployments' predictors load (`iris@champion` -> `iris`)."""
    return tuple(sorted({p.registered_model for d in deployments for p in d.predictors}))


def scoring_outputs(deployments: Iterable[DeploymentConfig]) -> tuple[str, ...]:
    """The artifact folders batch scoring writes (`mlflow-artifacts:/0/scoring/iris/scored/` ->
    `0/scoring/iris/scored`), the only places the scoring user may write."""
    return tuple(
        sorted(
            {
                d.batch_scoring.output.removeprefix("mlflow-artifacts:/").strip("/")
                for d in deployments
                if d.batch_scoring is not None
            }
        )
    )
