"""Rules across keys of a stack, checked once every key is valid on its own: names that must be
unique in the cluster or in Pulumi's state, namespaces the platform was told to own, and what a
protected or shared stack may not expose. Each problem names its key path."""

from infra.deployment_config import DeploymentConfig
from infra.namespaces import RETRAIN_TRIGGER

PLATFORM_SERVICES = (RETRAIN_TRIGGER,)
"""Services the platform itself declares in a serving namespace."""


def stack_problems(config) -> list[tuple[str, str]]:
    """(key path without the project prefix, message) for every rule `config` (a StackConfig)
    breaks."""
    return [
        *_declared_namespaces(config),
        *_unique_services(config.deployments),
        *_unique_pulumi_names(config.deployments),
        *_exposure(config),
    ]


def _declared_namespaces(config) -> list[tuple[str, str]]:
    declared = config.serving_namespaces.serving_namespaces
    return [
        (
            f"deployments[{index}].namespace",
            f"namespace {deployment.namespace!r} is not one the platform owns; declare it in "
            f"mlops-platform:servingNamespaces (now {declared}) if it is yours to take over",
        )
        for index, deployment in enumerate(config.deployments)
        if deployment.namespace not in declared
    ]


def _services(deployment: DeploymentConfig) -> list[tuple[str, str]]:
    """(Service name, key path) of the Services Seldon creates for the deployment: per
    predictor `<deployment>-<predictor>` (the executor) and `<deployment>-<predictor>-model`."""
    return [
        (f"{deployment.name}-{predictor.name}{suffix}", f"predictors[{index}].name")
        for index, predictor in enumerate(deployment.predictors)
        for suffix in ("", "-model")
    ]


def _unique_services(deployments: list[DeploymentConfig]) -> list[tuple[str, str]]:
    """Two Services of one name in a namespace are one Service: its host would route two
    deployments, or predictions to the platform's own trigger."""
    owners: dict[tuple[str, str], str] = {}
    problems = []
    for index, deployment in enumerate(deployments):
        for service, where in _services(deployment):
            key = (deployment.namespace, service)
            path = f"deployments[{index}].{where}"
            if service in PLATFORM_SERVICES:
                problems.append(
                    (path, f"gives the Service {service!r}, which the platform declares itself")
                )
            elif key in owners:
                problems.append(
                    (
                        path,
                        f"gives the Service {deployment.namespace}/{service}, already the one "
                        f"of {owners[key]}: rename the deployment or the predictor",
                    )
                )
            else:
                owners[key] = path
    return problems


def _unique_pulumi_names(deployments: list[DeploymentConfig]) -> list[tuple[str, str]]:
    """Per-deployment resources are named `<namespace>-<deployment>-...` in Pulumi's state."""
    seen: dict[str, int] = {}
    problems = []
    for index, deployment in enumerate(deployments):
        prefix = f"{deployment.namespace}-{deployment.name}"
        if prefix in seen:
            problems.append(
                (
                    f"deployments[{index}].name",
                    f"its Pulumi resource names start {prefix!r}, as those of deployments"
                    f"[{seen[prefix]}] ({deployments[seen[prefix]].key}): one resource would be "
                    "declared twice",
                )
            )
        seen.setdefault(prefix, index)
    return problems


def _exposure(config) -> list[tuple[str, str]]:
    problems = []
    mesh = config.mesh
    if (
        config.cluster.protected
        and mesh.ingress_service_type == "LoadBalancer"
        and mesh.prediction_auth == "none"
    ):
        problems.append(
            (
                "predictionAuth",
                "a protected stack on a public LoadBalancer must require a JWT for predictions "
                "(predictionAuth: jwt with jwtIssuer and jwtJwksUri), or not be public "
                "(ingressServiceType: ClusterIP or NodePort)",
            )
        )
    local = config.cluster.create_kind_cluster
    if config.registry.registry_uri.startswith("http://") and not local:
        problems.append(
            (
                "registryUri",
                "MLflow's login would cross the network in clear: outside the local kind "
                f"stack the registry must be https://, got {config.registry.registry_uri!r}",
            )
        )
    return problems
