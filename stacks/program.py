"""The platform program: composes the `infra/` components for one validated stack config."""

import pulumi

from infra.alerting.component import AlertReceivers
from infra.batch_scoring.component import BatchScoring
from infra.cert_manager.component import CertManager
from infra.cert_manager.sizing import SIZING as CERT_MANAGER_SIZING
from infra.cluster.component import ClusterAccess
from infra.component import custom_resource
from infra.components import platform_namespaces
from infra.deployments.component import ModelDeployment
from infra.deployments.config import DeploymentConfig
from infra.deployments.versions import DeclaredVersion, Resolution
from infra.internal_tls import CA_BUNDLE_SECRET, ca_bundle_dns_name
from infra.mesh.component import ServiceMesh, ingress_route
from infra.mesh.config import NAMESPACE as ISTIO
from infra.mesh.manifests import upstream_tls_rule
from infra.mesh.sizing import SIZING as MESH_SIZING
from infra.mlflow.auth import scoring_outputs, served_model_names
from infra.mlflow.component import MlflowTracking
from infra.mlflow.config import MLFLOW_PORT
from infra.mlflow.config import NAMESPACE as MLFLOW
from infra.model_image.component import ModelImage, registry_login
from infra.model_monitoring.component import ModelMonitoring, MonitoringDashboards
from infra.model_monitoring.config import PredictorTarget
from infra.namespaces.component import PlatformNamespaces
from infra.prometheus_stack.component import PrometheusStack
from infra.prometheus_stack.config import NAMESPACE as MONITORING
from infra.prometheus_stack.config import RELEASE_NAME
from infra.prometheus_stack.sizing import SIZING as PROMETHEUS_SIZING
from infra.registry_database.sizing import SIZING as REGISTRY_DATABASE_SIZING
from infra.request_logging.component import RequestLogSink
from infra.seldon.component import (
    DeploymentRoute,
    ExecutorHardening,
    SeldonOperator,
    UnroutedGateway,
)
from infra.seldon.routing import operator_annotations
from infra.seldon.sizing import SIZING as SELDON_SIZING
from infra.stack_config import StackConfig
from infra.training.component import ContinuousTraining, TrainingImage
from infra.training.config import training_targets

MLFLOW_UPSTREAM_CA = "mlflow-upstream-ca"
"""Secret in istio-system whose `ca.crt` the gateway verifies MLflow's certificate with."""


def declare_platform(config: StackConfig, versions: Resolution) -> None:
    """Declare every resource of the stack and export the URLs people use.

    `versions` says what each predictor serves (resolved before anything is declared); a
    deployment still waiting for its first registered version is left out, with a warning that
    says what to run. Its training CronJob is declared all the same: training is how it gets one.
    """
    training = training_targets(config.deployments)
    cluster = ClusterAccess("cluster", config.cluster)
    on_cluster = pulumi.ResourceOptions(providers=[cluster.provider])
    namespaces = PlatformNamespaces("namespaces", platform_namespaces(config), opts=on_cluster)
    in_namespaces = pulumi.ResourceOptions.merge(
        on_cluster, pulumi.ResourceOptions(depends_on=[namespaces])
    )
    storage_class = config.cluster.storage_class or None

    certificates = CertManager(
        "cert-manager",
        config.certificates,
        gateway_hosts=config.mesh.gateway_hosts,
        sizing=config.sizing.pick(CERT_MANAGER_SIZING),
        opts=in_namespaces,
    )
    mlflow_host = config.mesh.host("mlflow")
    mesh = ServiceMesh(
        "mesh",
        config.mesh,
        tls_secret=certificates.gateway_secret,
        certificate=certificates.gateway_certificate,
        unbuffered_hosts=[mlflow_host],
        sizing=config.sizing.pick(MESH_SIZING),
        opts=in_namespaces,
    )
    after_gateway = pulumi.ResourceOptions.merge(
        on_cluster, pulumi.ResourceOptions(depends_on=[mesh.gateway])
    )
    unrouted = UnroutedGateway("operator-routes", namespace=ISTIO, opts=after_gateway)
    operator = SeldonOperator(
        "seldon-operator",
        config.seldon,
        # Also the default of SeldonDeployments without the platform's annotation.
        gateway=unrouted.ref,
        istio=mesh.control_plane,
        cert_manager=certificates.release,
        cluster=cluster,
        sizing=config.sizing.pick(SELDON_SIZING),
        opts=in_namespaces,
    )
    hardening = ExecutorHardening(
        "executor-hardening", namespaces=config.deployment_namespaces, opts=in_namespaces
    )
    prometheus = PrometheusStack(
        "monitoring",
        config.prometheus,
        storage_class=storage_class,
        sizing=config.sizing.pick(PROMETHEUS_SIZING),
        alerting=AlertReceivers(
            "alert-receivers", config.alerting, config.alert_credentials, opts=in_namespaces
        ),
        opts=in_namespaces,
    )
    mlflow = MlflowTracking(
        "mlflow",
        config.mlflow,
        served_models=list(served_model_names(config.deployments)),
        served_versions=[v for declared in versions.versions.values() for v in declared.values()],
        scoring_outputs=scoring_outputs(config.deployments),
        certificates=certificates,
        database_config=config.registry_database,
        database_sizing=config.sizing.pick(REGISTRY_DATABASE_SIZING),
        # The PodMonitor and PrometheusRule kinds come with the monitoring chart's CRDs.
        monitoring_ready=[prometheus.release],
        persistent=config.cluster.persistent_storage,
        storage_class=storage_class,
        allowed_hosts=[
            mlflow_host,
            f"{mlflow_host}:{config.mesh.ingress_https_port}",
            f"mlflow.{MLFLOW}.svc.cluster.local:{MLFLOW_PORT}",
            f"mlflow.{MLFLOW}.svc:{MLFLOW_PORT}",
            f"mlflow.{MLFLOW}:{MLFLOW_PORT}",
            f"localhost:{MLFLOW_PORT}",
        ],
        opts=in_namespaces,
    )
    image = ModelImage("model-image", config.image, cluster=cluster)
    monitoring_opts = pulumi.ResourceOptions.merge(
        # The PodMonitor and PrometheusRule kinds come with the chart's CRDs.
        on_cluster,
        pulumi.ResourceOptions(depends_on=[namespaces, prometheus.release]),
    )
    MonitoringDashboards(
        "dashboards", config.monitoring, monitoring_namespace=MONITORING, opts=monitoring_opts
    )
    # Every deployment namespace gets the platform CA, for its pods to verify MLflow and, for
    # Alertmanager's route, the retrain trigger.
    ca_bundles = [
        certificates.certificate(
            f"{namespace}-platform-ca-bundle",
            namespace=namespace,
            secret_name=CA_BUNDLE_SECRET,
            dns_names=[ca_bundle_dns_name(namespace)],
        )
        for namespace in config.deployment_namespaces
    ]
    served = []
    for waiting in versions.pending.values():
        pulumi.log.warn(waiting)
    for entry in config.deployments:
        if entry.key in versions.pending:
            continue
        declared = versions.versions[entry.key]
        deployment = ModelDeployment(
            f"deployment-{entry.namespace}-{entry.name}",
            entry,
            versions=declared,
            namespace=namespaces.namespaces[entry.namespace],
            image=image.reference,
            tracking_uri=mlflow.tracking_uri,
            operator=operator.webhook_ready,
            mlflow_login=mlflow.serving_login,
            executor=config.sizing.pick(SELDON_SIZING).executor,
            registry_login=image.registry_login,
            annotations=operator_annotations(unrouted.ref),
            # Predictor pods are admitted only once the executor's hardening policies exist, and
            # download their version only once MLflow's served-versions list holds it.
            opts=pulumi.ResourceOptions.merge(
                in_namespaces,
                pulumi.ResourceOptions(depends_on=[hardening, mlflow.served_versions, *ca_bundles]),
            ),
        )
        targets = [
            PredictorTarget(name=p.name, traffic=p.weight, shadow=p.shadow)
            for p in entry.predictors
        ]
        ModelMonitoring(
            f"monitoring-{entry.namespace}-{entry.name}",
            entry.monitoring,
            deployment_name=entry.name,
            serving_namespace=entry.namespace,
            predictors=targets,
            runbook_base_url=config.alerting.runbook_base_url,
            opts=monitoring_opts,
        )
        DeploymentRoute(
            f"route-{entry.namespace}-{entry.name}",
            deployment=entry.name,
            namespace=entry.namespace,
            predictors=targets,
            gateway=mesh.gateway_ref,
            opts=pulumi.ResourceOptions.merge(
                after_gateway, pulumi.ResourceOptions(depends_on=[mesh.gateway, namespaces])
            ),
        )
        served.append(_deployment_outputs(config, entry, declared, deployment))
    logged = [d for d in config.deployments if d.request_logging is not None]
    scored = [
        d
        for d in config.deployments
        if d.batch_scoring is not None and d.key not in versions.pending
    ]
    if training or logged or scored:
        # The training image also runs the request-log sink and batch scoring.
        training_image = TrainingImage(
            "training-image", config.training_image, registry=config.image, cluster=cluster
        )
        pulumi.export("trainingImage", training_image.reference)
    if training:
        ContinuousTraining(
            "continuous-training",
            training,
            image=training_image.reference,
            tracking_uri=mlflow.tracking_uri,
            pipeline_login=mlflow.pipeline_login,
            registry=config.image,
            ledger_key=config.training_image.model_ledger_key.get_secret_value(),
            data_versioning=config.data_versioning,
            certificates=certificates,
            # AlertmanagerConfig is one of the chart's CRDs.
            opts=pulumi.ResourceOptions.merge(
                monitoring_opts, pulumi.ResourceOptions(depends_on=ca_bundles)
            ),
        )
    # They verify MLflow with their namespace's CA bundle.
    with_ca = pulumi.ResourceOptions.merge(
        in_namespaces, pulumi.ResourceOptions(depends_on=ca_bundles)
    )
    for namespace in dict.fromkeys(d.namespace for d in logged):
        RequestLogSink(
            f"request-log-{namespace}",
            namespace,
            [d for d in logged if d.namespace == namespace],
            image=training_image.reference,
            tracking_uri=mlflow.tracking_uri,
            request_log_login=mlflow.request_log_login,
            registry_login=registry_login(config.image),
            opts=with_ca,
        )
    for entry in scored:
        BatchScoring(
            f"scoring-{entry.namespace}-{entry.name}",
            entry,
            versions.versions[entry.key][entry.scoring_predictor.name],
            image=training_image.reference,
            tracking_uri=mlflow.tracking_uri,
            scoring_login=mlflow.scoring_login,
            registry_login=registry_login(config.image),
            opts=with_ca,
        )
    ingress_route(
        "mlflow",
        host=mlflow_host,
        namespace=MLFLOW,
        service="mlflow",
        port=MLFLOW_PORT,
        parent=mesh,
        after=[mesh.gateway],
    )
    mlflow_upstream_ca = certificates.certificate(
        "mlflow-upstream-ca",
        namespace=ISTIO,
        secret_name=MLFLOW_UPSTREAM_CA,
        dns_names=[ca_bundle_dns_name(ISTIO)],
    )
    custom_resource(
        "mlflow-upstream-tls",
        upstream_tls_rule(
            "mlflow-upstream-tls",
            host=f"mlflow.{MLFLOW}.svc.cluster.local",
            ca_secret=MLFLOW_UPSTREAM_CA,
        ),
        pulumi.ResourceOptions(parent=mesh, depends_on=[mesh.gateway, mlflow_upstream_ca]),
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
    pulumi.export("mlflowAdminUser", config.mlflow.mlflow_admin_user)
    pulumi.export("mlflowAdminPassword", mlflow.admin_password)
    pulumi.export("mlflowPipelineUser", mlflow.pipeline_login.username)
    pulumi.export("mlflowPipelinePassword", mlflow.pipeline_login.password)
    pulumi.export("mlflowReaderUser", mlflow.reader_login.username)
    pulumi.export("mlflowReaderPassword", mlflow.reader_login.password)
    pulumi.export("mlflowUrl", config.mesh.url("mlflow"))
    pulumi.export("mlflowInClusterUrl", mlflow.tracking_uri)
    pulumi.export("image", image.reference)
    pulumi.export("deployments", served)
    pulumi.export("pendingDeployments", versions.pending)


def _deployment_outputs(
    config: StackConfig,
    entry: DeploymentConfig,
    versions: dict[str, DeclaredVersion],
    deployment: ModelDeployment,
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
            {
                "name": p.name,
                "model": p.model,
                "modelUri": versions[p.name].uri,
                "version": versions[p.name].version,
                "traffic": p.weight,
                "shadow": p.shadow,
            }
            for p in entry.predictors
        ],
    }
