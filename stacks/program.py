"""The platform program: composes the `infra/` components for one validated stack config."""

import pulumi

from infra.cluster import ClusterAccess
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
from infra.training import ContinuousTraining, TrainingImage, TrainingTarget


def declare_platform(config: StackConfig) -> None:
    """Declare every resource of the stack and export the URLs people use."""
    cluster = ClusterAccess("cluster", config.cluster)
    on_cluster = pulumi.ResourceOptions(providers=[cluster.provider])
    namespaces = PlatformNamespaces(
        "namespaces", platform_namespaces(config.serving.namespace), opts=on_cluster
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
    deployment = ModelDeployment(
        "model-deployment",
        config.serving,
        image=image.reference,
        tracking_uri=mlflow.tracking_uri,
        operator=operator.release,
        registry_login=image.registry_login,
        opts=in_namespaces,
    )
    ModelMonitoring(
        "model-monitoring",
        config.monitoring,
        deployment_name=config.serving.deployment_name,
        serving_namespace=config.serving.namespace,
        monitoring_namespace=MONITORING,
        predictors=[
            PredictorTarget(name=p.name, traffic=p.weight, shadow=p.shadow)
            for p in config.serving.predictors
        ],
        # The PodMonitor and PrometheusRule kinds come with the chart's CRDs.
        opts=pulumi.ResourceOptions.merge(
            on_cluster, pulumi.ResourceOptions(depends_on=[namespaces, prometheus.release])
        ),
    )
    serving = config.serving
    if serving.training is not None:
        training_image = TrainingImage(
            "training-image", config.training_image, registry=config.image
        )
        ContinuousTraining(
            "continuous-training",
            [
                TrainingTarget(
                    deployment=serving.deployment_name,
                    namespace=serving.namespace,
                    registered_model=serving.predictors[0].model.split("@")[0].split("/")[0],
                    training=serving.training,
                )
            ],
            image=training_image.reference,
            tracking_uri=mlflow.tracking_uri,
            pipeline_login=None,
            registry=config.image,
            # AlertmanagerConfig is one of the chart's CRDs.
            opts=pulumi.ResourceOptions.merge(
                on_cluster, pulumi.ResourceOptions(depends_on=[namespaces, prometheus.release])
            ),
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

    pulumi.export(
        "predictionUrl",
        config.mesh.url(
            path=f"/seldon/{serving.namespace}/{serving.deployment_name}/api/v1.0/predictions"
        ),
    )
    pulumi.export("grafanaUrl", config.mesh.url("grafana"))
    pulumi.export("grafanaAdminPassword", prometheus.grafana_admin_password)
    pulumi.export("mlflowUrl", config.mesh.url("mlflow"))
    pulumi.export("mlflowInClusterUrl", mlflow.tracking_uri)
    pulumi.export("image", image.reference)
    pulumi.export(
        "predictors",
        [
            {"name": p.name, "model": p.model, "traffic": p.weight, "shadow": p.shadow}
            for p in serving.predictors
        ],
    )
    pulumi.export("seldonDeployment", deployment.resource.metadata["name"])
