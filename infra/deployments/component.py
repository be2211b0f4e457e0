"""The SeldonDeployment that serves registered model versions with an A/B split and a shadow."""

import pulumi
import pulumi_kubernetes as k8s

from infra.component import PlatformComponent, custom_resource
from infra.deployments.config import DeploymentConfig
from infra.deployments.seldon_deployment import PULL_SECRET, seldon_deployment
from infra.deployments.versions import DeclaredVersion
from infra.secrets import MlflowLogin, RegistryLogin, image_pull_secrets


class ModelDeployment(PlatformComponent):
    """One entry of `deployments`: a SeldonDeployment with one predictor per model version.

    `versions` holds what each predictor serves (by predictor name): the concrete version and
    its digest as resolved at deploy time, so a promotion is a change of this object.
    Non-shadow predictors share traffic by weight through Istio; the shadow predictor receives
    a mirrored copy of `mirrorPercent` of the requests and its answers are dropped.
    """

    resource: k8s.apiextensions.CustomResource

    def __init__(
        self,
        name: str,
        config: DeploymentConfig,
        *,
        versions: dict[str, DeclaredVersion],
        namespace: k8s.core.v1.Namespace,
        image: pulumi.Input[str],
        tracking_uri: pulumi.Input[str],
        operator: pulumi.Resource,
        executor: dict,
        mlflow_login: MlflowLogin,
        registry_login: RegistryLogin | None = None,
        annotations: dict[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:serving:ModelDeployment", name, opts)
        namespace_name = namespace.metadata.name
        pull_secrets = image_pull_secrets(
            f"{config.namespace}-{config.name}-{PULL_SECRET}",
            registry_login,
            namespace=namespace_name,
            opts=self.child_opts(),
        )
        login_env = MlflowLogin.env(
            mlflow_login.secret(
                f"{config.namespace}-{config.name}-mlflow-login",
                namespace=namespace_name,
                opts=self.child_opts(),
            )
        )
        self.resource = custom_resource(
            name,
            seldon_deployment(
                config,
                versions=versions,
                namespace=namespace_name,
                image=image,
                tracking_uri=tracking_uri,
                login_env=login_env,
                pull_secrets=pull_secrets,
                executor=executor,
                annotations=annotations,
            ),
            # `operator` is SeldonOperator.webhook_ready: the admission webhooks answer.
            self.child_opts(depends_on=[operator]),
        )
        self.register_outputs({"name": self.resource.metadata["name"]})
