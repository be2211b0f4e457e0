"""A deployment's batch-scoring CronJob as a Pulumi component."""

import pulumi
import pulumi_kubernetes as k8s

from infra.batch_scoring.builders import scoring_cronjob
from infra.component import PlatformComponent
from infra.deployments.config import DeploymentConfig
from infra.deployments.versions import DeclaredVersion
from infra.secrets import MlflowLogin, RegistryLogin, image_pull_secrets


class BatchScoring(PlatformComponent):
    """The CronJob, its MLflow login (the scoring user: it reads the served version and the
    input and writes a new output file under the declared output folder, nothing else,
    `infra/scripts/artifact_writes.py`) and its image pull secret."""

    def __init__(
        self,
        name: str,
        deployment: DeploymentConfig,
        version: DeclaredVersion,
        *,
        image: pulumi.Input[str],
        tracking_uri: pulumi.Input[str],
        scoring_login: MlflowLogin,
        registry_login: RegistryLogin | None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:serving:BatchScoring", name, opts)
        prefix = f"{deployment.namespace}-{deployment.name}-scoring"
        login = scoring_login.secret(
            f"{prefix}-mlflow", namespace=deployment.namespace, opts=self.child_opts()
        )
        pull_secrets = image_pull_secrets(
            f"{prefix}-image-pull",
            registry_login,
            namespace=deployment.namespace,
            opts=self.child_opts(),
        )
        cronjob = scoring_cronjob(
            deployment,
            version,
            image=image,
            tracking_uri=tracking_uri,
            login_env=MlflowLogin.env(login),
            pull_secrets=pull_secrets,
        )
        k8s.batch.v1.CronJob(
            prefix, metadata=cronjob["metadata"], spec=cronjob["spec"], opts=self.child_opts()
        )
        self.register_outputs({})
