"""The components' pure builders and the component list, without the Pulumi mock runtime: config
in, plain manifests out, and the registries (`StackConfig`, namespaces, sizing) assembled from
`infra/components.py`."""

from pathlib import Path

import pytest

from infra.cert_manager import manifests as cert_manager_manifests
from infra.cert_manager.config import CertManagerConfig
from infra.components import COMPONENTS, PLATFORM_NAMESPACES, platform_namespaces, platform_sizing
from infra.mesh import manifests as mesh_manifests
from infra.mesh.config import MeshConfig
from infra.mesh.sizing import SIZING as MESH_SIZING
from infra.mlflow import server
from infra.mlflow.auth import MlflowUsers
from infra.mlflow.config import MlflowConfig
from infra.namespaces.policies import network_policies
from infra.sizing import SizingConfig
from infra.stack_config import StackConfig, load_stack_file
from infra.stack_rules import stack_problems

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def prod() -> StackConfig:
    return load_stack_file(REPO / "Pulumi.prod.yaml")


def test_stack_config_has_one_field_per_listed_section() -> None:
    assert list(StackConfig.model_fields) == [section.name for section in COMPONENTS]


def test_namespaces_come_from_the_components_then_the_deployments(prod: StackConfig) -> None:
    names = [spec.name for spec in platform_namespaces(prod)]
    assert names[: len(PLATFORM_NAMESPACES)] == list(PLATFORM_NAMESPACES)
    assert names[len(PLATFORM_NAMESPACES) :] == prod.deployment_namespaces
    assert set(PLATFORM_NAMESPACES) == {
        "istio-system", "seldon-system", "mlflow", "monitoring", "cert-manager", "cnpg-system"
    }  # fmt: skip


def test_every_namespace_starts_from_default_deny(prod: StackConfig) -> None:
    for spec in platform_namespaces(prod):
        name, policy = network_policies(spec)[0]
        assert (name, policy["policyTypes"]) == ("default-deny", ["Ingress", "Egress"])


def test_a_deployment_in_a_platform_namespace_is_refused(prod: StackConfig) -> None:
    raw = prod.model_dump(by_alias=True, mode="json", exclude_unset=True)
    raw["deployments"][0]["namespace"] = "mlflow"
    problems = stack_problems(StackConfig.model_validate(raw))
    at_namespace = [message for where, message in problems if where == "deployments[0].namespace"]
    assert len(at_namespace) == 1, "refused once, not also asked to declare it"
    assert "'mlflow' is a platform namespace" in at_namespace[0]


def test_sizing_is_gathered_per_component_and_profile() -> None:
    small = platform_sizing(SizingConfig(platform_sizing="small"))
    ha = platform_sizing(SizingConfig(platform_sizing="ha"))
    assert set(small) == set(ha) == {
        "mesh", "certificates", "seldon", "prometheus", "registry_database"
    }  # fmt: skip
    assert small["mesh"] is MESH_SIZING.small and ha["mesh"] is MESH_SIZING.ha
    assert small["mesh"].istiod_scaling_values() == {"autoscaleEnabled": False, "replicaCount": 1}
    assert ha["mesh"].istiod_scaling_values()["autoscaleMax"] == 3


def test_mlflow_server_follows_its_config() -> None:
    config = MlflowConfig.model_validate(
        {"artifactStore": "s3", "artifactBucket": "models", "s3Region": "eu-west-1"}
    )
    store = server.artifact_store(config, s3_secret="mlflow-s3")
    manifest = server.server_deployment(
        config,
        server_secret="mlflow-server",
        service_account="mlflow",
        common=server.common_mounts("mlflow-server", "registry-db-server-tls"),
        store=store,
        auth_app=server.auth_app_volume("auth-app", []),
        served_versions=server.SERVED_VERSIONS_MAP,
        allowed_hosts=["mlflow.example.org"],
        credentials_digest="digest",
    )
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    assert args[args.index("--artifacts-destination") + 1] == "s3://models/artifacts"
    assert args[args.index("--workers") + 1] == str(config.workers)
    env = {e["name"]: e for e in container["env"]}
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]["name"] == "mlflow-s3"
    assert env["MLFLOW_SERVER_ALLOWED_HOSTS"]["value"] == "mlflow.example.org"


@pytest.mark.parametrize("backup_first", [True, False])
def test_the_schema_upgrade_waits_for_a_backup_only_when_backups_are_on(backup_first: bool) -> None:
    config = MlflowConfig()
    users = MlflowUsers(
        serving="serving",
        pipeline="pipeline",
        reader="reader",
        request_log="request-log",
        scoring="scoring",
        served_models=("iris",),
    )
    script = server.access_config_map(config, users, backup_first=backup_first)
    name = script["metadata"]["name"]
    job = server.access_job(
        config,
        name=name,
        script=name,
        mounts=server.common_mounts("mlflow-server", "registry-db-server-tls"),
        credentials_digest="digest",
        backup_account=server.BACKUP_ACCOUNT if backup_first else None,
    )
    pod = job["spec"]["template"]["spec"]
    command = pod["containers"][0]["command"]
    assert ("registry_backup_gate.py" in script["data"]) is backup_first
    assert (command[1] == "/opt/mlflow-access/registry_backup_gate.py") is backup_first
    assert command[-2:] == ["/opt/mlflow-access/mlflow_access.py", "/opt/mlflow-access/access.json"]
    assert pod["automountServiceAccountToken"] is backup_first
    if backup_first:
        revision = name.removeprefix("mlflow-access-")
        assert command[command.index("--cnpg-backup") + 1] == f"registry-db-pre-upgrade-{revision}"
        assert pod["serviceAccountName"] == server.BACKUP_ACCOUNT


def test_jwt_policies_cover_the_prediction_paths() -> None:
    config = MeshConfig.model_validate(
        {"jwtIssuer": "https://id.example.org", "jwtJwksUri": "https://id.example.org/jwks"}
    )
    authentication, deny = mesh_manifests.jwt_policies(config)
    assert authentication["spec"]["jwtRules"][0]["issuer"] == "https://id.example.org"
    assert deny["spec"]["action"] == "DENY"
    assert "/seldon/*" in deny["spec"]["rules"][0]["to"][0]["operation"]["paths"]


def test_acme_issuer_solves_through_istio() -> None:
    config = CertManagerConfig.model_validate(
        {"gatewayTls": "acme", "acmeEmail": "ops@example.org"}
    )
    issuer = cert_manager_manifests.acme_issuer(config)
    assert issuer["spec"]["acme"]["email"] == "ops@example.org"
    assert issuer["spec"]["acme"]["solvers"] == [{"http01": {"ingress": {"class": "istio"}}}]
