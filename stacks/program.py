"""The platform program: composes the `infra/` components for one validated stack config."""

import pulumi

from infra.cluster import ClusterAccess
from infra.deployment_config import DeploymentConfig
from infra.mesh import ServiceMesh, ingress_route
from infra.mlflow import MLFLOW_PORT, MlflowTracking
from infra.model_deployment import ModelDeployment
from infra.model_image import ModelImage
from infra.model_monitoring.component import ModelMonitoring
from infra.model_monitoring.config import PredictorTarget
from infra.namespaces import MLFLOW, MONITORING, PlatformNamespaces, platform_namespaces
from infra.prometheus_stack import RELEASE_NAME, PrometheusStack
from infra.seldon_operator import SeldonOperator
from infra.stack_config import StackConfig
from infra.training import ContinuousTraining, TrainingImage, training_targets


def declare_platform(config: StackConfig) -> None:
    """Declare every resource of the stack and export the URLs people use."""
    training = training_targets(config.deployments)
    cluster = ClusterAccess("cluster", config.cluster)
    on_cluster = pulumi.ResourceOptions(providers=[cluster.provider])
    namespaces = PlatformNamespaces(
        "namespaces", platform_namespaces(config.deployment_namespaces), opts=on_cluster
    )
    in_namespaces = pulumi.ResourceOptions.merge(
        on_cluster, pulumi.ResourceOptions(depends_on=[namespaces])
    )
    storage_class = config.cluster.storage_class or None

    mesh = ServiceMesh("mesh", config.mesh, opts=in_namespaces)
    operator = SeldonOperator(
        "seldon-operator",
        config.seldon,
        gateway=mesh.gateway_ref,
        istio=mesh.control_plane,
        opts=in_namespaces,
    )
    prometheus = PrometheusStack(
        "monitoring", config.prometheus, storage_class=storage_class, opts=in_namespaces
    )
    mlflow_host = f"mlflow.{config.mesh.ingress_domain}"
    mlflow = MlflowTracking(
        "mlflow",
        config.mlflow,
        persistent=config.cluster.persistent_storage,
        storage_class=storage_class,
        allowed_hosts=[
            mlflow_host,
            f"{mlflow_host}:{config.mesh.ingress_port}",
            f"mlflow.{MLFLOW}.svc.cluster.local:{MLFLOW_PORT}",
            f"mlflow.{MLFLOW}.svc:{MLFLOW_PORT}",
            f"mlflow.{MLFLOW}:{MLFLOW_PORT}",
            f"localhost:{MLFLOW_PORT}",
        ],
        opts=in_namespaces,
    )
    image = ModelImage("model-image", config.image)
    monitoring_opts = pulumi.ResourceOptions.merge(
        # The PodMonitor and PrometheusRule kinds come with the chart's CRDs.
        on_cluster,
        pulumi.ResourceOptions(depends_on=[namespaces, prometheus.release]),
    )
    served = []
    for entry in config.deployments:
        deployment = ModelDeployment(
            f"deployment-{entry.namespace}-{entry.name}",
            entry,
            namespace=namespaces.namespaces[entry.namespace],
            image=image.reference,
            tracking_uri=mlflow.tracking_uri,
            operator=operator.release,
            registry_login=image.registry_login,
            opts=in_namespaces,
        )
        ModelMonitoring(
            f"monitoring-{entry.namespace}-{entry.name}",
            entry.monitoring,
            deployment_name=entry.name,
            serving_namespace=entry.namespace,
            monitoring_namespace=MONITORING,
            predictors=[
                PredictorTarget(name=p.name, traffic=p.weight, shadow=p.shadow)
                for p in entry.predictors
            ],
            opts=monitoring_opts,
        )
        served.append(_deployment_outputs(config, entry, deployment))
    if training:
        training_image = TrainingImage(
            "training-image", config.training_image, registry=config.image
        )
        ContinuousTraining(
            "continuous-training",
            training,
            image=training_image.reference,
            tracking_uri=mlflow.tracking_uri,
            pipeline_login=None,
            registry=config.image,
            # AlertmanagerConfig is one of the chart's CRDs.
            opts=monitoring_opts,
        )
        pulumi.export("trainingImage", training_image.reference)
    ingress_route(
        "mlflow",
        host=mlflow_host,
        namespace=MLFLOW,
        service="mlflow",
        port=MLFLOW_PORT,
        parent=mesh,
        after=[mesh.gateway],
    )
    ingress_route(
        "grafana",
        host=f"grafana.{config.mesh.ingress_domain}",
        namespace=MONITORING,
        service=f"{RELEASE_NAME}-grafana",
        port=80,
        parent=mesh,
        after=[mesh.gateway],
    )

    pulumi.export("grafanaUrl", config.mesh.url("grafana"))
    pulumi.export("grafanaAdminPassword", prometheus.grafana_admin_password)
    pulumi.export("mlflowUrl", config.mesh.url("mlflow"))
    pulumi.export("mlflowInClusterUrl", mlflow.tracking_uri)
    pulumi.export("image", image.reference)
    pulumi.export("deployments", served)


def _deployment_outputs(
    config: StackConfig, entry: DeploymentConfig, deployment: ModelDeployment
) -> dict:
    """What people need of one deployment: where to call it and what each predictor serves."""
    return {
        "name": entry.name,
        "namespace": entry.namespace,
        "seldonDeployment": deployment.resource.metadata["name"],
        "predictionUrl": config.mesh.url(
            path=f"/seldon/{entry.namespace}/{entry.name}/api/v1.0/predictions"
        ),
        "predictors": [
            {"name": p.name, "model": p.model, "traffic": p.weight, "shadow": p.shadow}
            for p in entry.predictors
        ],
    }
