"""The request-log sink of one serving namespace as a Pulumi component."""

import pulumi
import pulumi_kubernetes as k8s

from infra.component import PlatformComponent
from infra.deployments.config import DeploymentConfig
from infra.request_logging.builders import (
    SINK_NAME,
    sink_deployment,
    sink_pod_spec,
    sink_service,
    sink_settings,
)
from infra.secrets import MlflowLogin, RegistryLogin, image_pull_secrets


class RequestLogSink(PlatformComponent):
    """Deployment and Service of `python -m request_log` for the logged deployments of
    `namespace`; it writes to the artifact store as the MLflow request-log user, which may
    touch nothing but the request logs (`infra/scripts/artifact_writes.py`)."""

    def __init__(
        self,
        name: str,
        namespace: str,
        deployments: list[DeploymentConfig],
        *,
        image: pulumi.Input[str],
        tracking_uri: pulumi.Input[str],
        request_log_login: MlflowLogin,
        registry_login: RegistryLogin | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:serving:RequestLogSink", name, opts)
        login = request_log_login.secret(
            f"{namespace}-{SINK_NAME}-mlflow", namespace=namespace, opts=self.child_opts()
        )
        pull_secrets = image_pull_secrets(
            f"{namespace}-{SINK_NAME}-image-pull",
            registry_login,
            namespace=namespace,
            opts=self.child_opts(),
        )
        pod = sink_pod_spec(
            image, tracking_uri, sink_settings(deployments), MlflowLogin.env(login), pull_secrets
        )
        deployment = sink_deployment(namespace, pod)
        k8s.apps.v1.Deployment(
            f"{namespace}-{SINK_NAME}",
            metadata=deployment["metadata"],
            spec=deployment["spec"],
            opts=self.child_opts(),
        )
        service = sink_service(namespace)
        k8s.core.v1.Service(
            f"{namespace}-{SINK_NAME}",
            metadata=service["metadata"],
            spec=service["spec"],
            opts=self.child_opts(),
        )
        self.register_outputs({})
