"""The platform's components, in one list: each names its stack section (its config class),
the namespaces it owns and its sizing. `StackConfig`, the platform namespaces and the sizing
profiles are all assembled from this list, so a new component is one line here (plus its
folder, its call in stacks/program.py and its stack keys; docs/extending.md).

Pulumi-free: stack validation imports this list, never a component's `component.py`.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from infra.alerting.config import AlertCredentials, AlertingConfig
from infra.cert_manager import namespace as cert_manager_namespace
from infra.cert_manager.config import NAMESPACE as CERT_MANAGER
from infra.cert_manager.config import CertManagerConfig
from infra.cert_manager.sizing import SIZING as CERT_MANAGER_SIZING
from infra.cluster.config import ClusterConfig
from infra.deployments import namespace as deployments_namespace
from infra.deployments.config import DeploymentConfig, RegistryConfig, ServingNamespacesConfig
from infra.mesh import namespace as mesh_namespace
from infra.mesh.config import NAMESPACE as ISTIO
from infra.mesh.config import MeshConfig
from infra.mesh.sizing import SIZING as MESH_SIZING
from infra.mlflow import namespace as mlflow_namespace
from infra.mlflow.config import NAMESPACE as MLFLOW
from infra.mlflow.config import MlflowConfig
from infra.model_image.config import ModelImageConfig
from infra.model_monitoring.config import MonitoringConfig
from infra.namespaces.spec import NamespaceSpec
from infra.prometheus_stack import namespace as prometheus_namespace
from infra.prometheus_stack.config import NAMESPACE as MONITORING
from infra.prometheus_stack.config import PrometheusStackConfig
from infra.prometheus_stack.sizing import SIZING as PROMETHEUS_SIZING
from infra.seldon import namespace as seldon_namespace
from infra.seldon.config import NAMESPACE as SELDON_SYSTEM
from infra.seldon.config import SeldonOperatorConfig
from infra.seldon.sizing import SIZING as SELDON_SIZING
from infra.sizing import Profiles, SizingConfig
from infra.training.config import TrainingImageConfig

Namespaces = Callable[[Any, list[str]], list[NamespaceSpec]]
"""(the component's config, the stack's serving namespaces) -> the namespaces it declares."""

REQUIRED = ...
"""A section without a default: the stack must give it (flat sections always get one)."""


@dataclass(frozen=True)
class Section:
    """One component's part of the stack configuration.

    `name` is the `StackConfig` field. `keys`: "flat" sections read their fields from top-level
    stack keys (`mlops-platform:istioVersion`), an "object" section is one structured key named
    like the field (camel case). `namespace` is the platform namespace the component runs in,
    which no deployment may take; `namespaces` builds its specs (labels and network allows).
    """

    name: str
    config: Any
    keys: Literal["flat", "object"] = "flat"
    default: Any = REQUIRED
    namespace: str | None = None
    namespaces: Namespaces | None = None
    sizing: Profiles | None = None


COMPONENTS: tuple[Section, ...] = (
    Section("cluster", ClusterConfig),
    Section(
        "mesh", MeshConfig, namespace=ISTIO, namespaces=mesh_namespace.namespaces,
        sizing=MESH_SIZING,
    ),
    Section(
        "certificates", CertManagerConfig, default=CertManagerConfig(), namespace=CERT_MANAGER,
        namespaces=cert_manager_namespace.namespaces, sizing=CERT_MANAGER_SIZING,
    ),
    Section(
        "seldon", SeldonOperatorConfig, namespace=SELDON_SYSTEM,
        namespaces=seldon_namespace.namespaces, sizing=SELDON_SIZING,
    ),
    Section(
        "prometheus", PrometheusStackConfig, namespace=MONITORING,
        namespaces=prometheus_namespace.namespaces, sizing=PROMETHEUS_SIZING,
    ),
    Section(
        "mlflow", MlflowConfig, namespace=MLFLOW, namespaces=mlflow_namespace.namespaces
    ),
    Section("image", ModelImageConfig),
    Section("sizing", SizingConfig),
    Section("registry", RegistryConfig),
    Section("training_image", TrainingImageConfig, default=TrainingImageConfig()),
    Section("serving_namespaces", ServingNamespacesConfig, default=ServingNamespacesConfig()),
    Section(
        "deployments", list[DeploymentConfig], keys="object",
        namespaces=deployments_namespace.namespaces,
    ),
    Section("monitoring", MonitoringConfig, keys="object", default=MonitoringConfig()),
    Section("alert_credentials", AlertCredentials, default=AlertCredentials()),
    Section("alerting", AlertingConfig, keys="object"),
)  # fmt: skip
"""Every section of a stack, in the order `StackConfig` lists them."""

FLAT_SECTIONS: dict[str, type[BaseModel]] = {
    c.name: c.config for c in COMPONENTS if c.keys == "flat"
}
"""Sections whose fields are top-level stack keys (`mlops-platform:istioVersion`, ...)."""

OBJECT_KEYS = tuple(c.name for c in COMPONENTS if c.keys == "object")
"""Stack keys holding structured values (`deployments`, `monitoring`)."""

PLATFORM_NAMESPACES = tuple(c.namespace for c in COMPONENTS if c.namespace)
"""Namespaces the platform's own components run in; no deployment may use them."""


def platform_namespaces(config: Any) -> list[NamespaceSpec]:
    """Every namespace the stack declares (`config` is a StackConfig): each component's, in the
    order of the list, the deployments' serving namespaces last."""
    serving = config.deployment_namespaces
    return [
        spec
        for section in COMPONENTS
        if section.namespaces
        for spec in section.namespaces(getattr(config, section.name), serving)
    ]


def platform_sizing(profile: SizingConfig) -> dict[str, object]:
    """Section name -> that component's sizing under `profile`: everything the stack sizes."""
    return {c.name: profile.pick(c.sizing) for c in COMPONENTS if c.sizing}
