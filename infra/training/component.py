"""Continuous training in the cluster: the training image, a CronJob per deployment, and the
retrain trigger that Alertmanager calls when a deployment drifts or degrades.

Per deployment namespace: one trigger (Deployment, Service, ServiceAccount, a Role that may
`create` Jobs and `get` the namespace's training CronJobs and nothing more, the webhook token
Secret) and the NetworkPolicies that let only Alertmanager reach it and it reach the API server.
Cluster-wide: the admission policy that lets the trigger create only its CronJobs' Jobs
(infra/training/admission.py).
Per deployment: its training CronJob and an AlertmanagerConfig routing its drift and
error-ratio alerts to the trigger. The loop is described in docs/continuous-training.md.
"""

import json

import pulumi
import pulumi_kubernetes as k8s

from infra.cert_manager.component import CertManager
from infra.cluster.component import ClusterAccess
from infra.component import PlatformComponent, custom_resource
from infra.data_versioning.builders import dvc_remote_url, git_egress_policy
from infra.data_versioning.config import DataVersioningConfig
from infra.internal_tls import service_dns_names
from infra.model_image.component import image_reference, kind_registry, registry_login
from infra.model_image.config import ModelImageConfig
from infra.secrets import MlflowLogin, credentials_secret, generated_password
from infra.training import trigger
from infra.training.admission import (
    TRAINING_CRONJOB_LABELS,
    retrain_job_policy,
    retrain_job_policy_binding,
)
from infra.training.alerts import alertmanager_config
from infra.training.config import (
    LEDGER_KEY_KEY,
    TOKEN_KEY,
    TRAINING_SOURCE,
    TRIGGER_NAME,
    TRIGGER_TLS_SECRET,
    TrainingImageConfig,
    TrainingTarget,
    cronjob_name,
)
from infra.training.cronjob import training_cronjob


class TrainingImage(PlatformComponent):
    """The training image, built like the serving image (tagged by content, deployed by digest)
    or adopted from a prebuilt digest."""

    reference: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        config: TrainingImageConfig,
        *,
        registry: ModelImageConfig,
        cluster: ClusterAccess,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:training:TrainingImage", name, opts)
        self.reference = image_reference(
            name,
            source=TRAINING_SOURCE,
            repository=config.training_image_repository,
            prebuilt_ref=config.training_image_prebuilt_ref,
            config=registry,
            login=registry_login(registry),
            opts=self.child_opts(depends_on=kind_registry(cluster)),
        )
        self.register_outputs({"reference": self.reference})


class ContinuousTraining(PlatformComponent):
    """Training CronJobs, retrain triggers and the Alertmanager routes to them; the manifests
    come from `cronjob.py`, `trigger.py`, `alerts.py` and `admission.py` beside this file."""

    cronjob_names: dict[str, pulumi.Output[str]]
    """Deployment name -> its training CronJob."""

    def __init__(
        self,
        name: str,
        targets: list[TrainingTarget],
        *,
        image: pulumi.Input[str],
        tracking_uri: pulumi.Input[str],
        pipeline_login: MlflowLogin,
        registry: ModelImageConfig,
        ledger_key: pulumi.Input[str],
        data_versioning: DataVersioningConfig,
        certificates: CertManager,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:training:ContinuousTraining", name, opts)
        self._image = image
        self._certificates = certificates
        dvc_remote = pulumi.Output.from_input(tracking_uri).apply(
            lambda uri: dvc_remote_url(uri, data_versioning.dvc_remote_path)
        )
        token = generated_password(f"{name}-webhook-token", self.child_opts())
        login = registry_login(registry)
        self.cronjob_names = {}
        for namespace in sorted({t.namespace for t in targets}):
            in_namespace = [t for t in targets if t.namespace == namespace]
            token_secret = credentials_secret(
                f"{namespace}-retrain-webhook-token",
                namespace=namespace,
                data={TOKEN_KEY: token},
                opts=self.child_opts(),
            ).metadata["name"]
            mlflow_secret = pipeline_login.secret(
                f"{namespace}-mlflow-pipeline", namespace=namespace, opts=self.child_opts()
            )
            # A run records its `candidate` as a signed ledger entry (model/promotion.py).
            ledger_secret = credentials_secret(
                f"{namespace}-model-ledger-key",
                namespace=namespace,
                data={LEDGER_KEY_KEY: ledger_key},
                opts=self.child_opts(),
            ).metadata["name"]
            pull_secret = (
                credentials_secret(
                    f"{namespace}-training-image-pull",
                    namespace=namespace,
                    data={".dockerconfigjson": login.docker_config()},
                    opts=self.child_opts(),
                    secret_type="kubernetes.io/dockerconfigjson",
                ).metadata["name"]
                if login is not None
                else None
            )
            cronjobs = {
                t.deployment: k8s.batch.v1.CronJob(
                    f"{t.namespace}-{cronjob_name(t.deployment)}",
                    **training_cronjob(
                        t,
                        image=image,
                        tracking_uri=tracking_uri,
                        dvc_remote=dvc_remote,
                        login_env=MlflowLogin.env(mlflow_secret),
                        ledger_secret=ledger_secret,
                        pull_secret=pull_secret,
                    ),
                    opts=self.child_opts(),
                ).metadata["name"]
                for t in in_namespace
            }
            self.cronjob_names.update(cronjobs)
            service = self._trigger(namespace, cronjobs, token_secret, pull_secret)
            if any(t.training.data for t in in_namespace):
                policy = git_egress_policy(namespace, TRAINING_CRONJOB_LABELS)
                k8s.networking.v1.NetworkPolicy(
                    f"{namespace}-{policy['metadata']['name']}",
                    metadata=policy["metadata"],
                    spec=policy["spec"],
                    opts=self.child_opts(),
                )
            for target in in_namespace:
                self._alert_route(target, service, token_secret)
        if targets:
            self._admission_policy(sorted({t.namespace for t in targets}))
        self.register_outputs({"cronjobs": self.cronjob_names})

    def _admission_policy(self, namespaces: list[str]) -> None:
        """Jobs the triggers create must be their CronJobs' (infra/training/admission.py)."""
        policy = retrain_job_policy()
        k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
            policy["metadata"]["name"],
            metadata=policy["metadata"],
            spec=policy["spec"],
            opts=self.child_opts(),
        )
        binding = retrain_job_policy_binding(namespaces)
        k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            binding["metadata"]["name"],
            metadata=binding["metadata"],
            spec=binding["spec"],
            opts=self.child_opts(),
        )

    def _trigger(
        self,
        namespace: str,
        cronjobs: dict[str, pulumi.Output[str]],
        token_secret: pulumi.Output[str],
        pull_secret: pulumi.Output[str] | None,
    ) -> k8s.core.v1.Service:
        """The webhook receiver of one namespace, serving only TLS with a certificate from the
        platform CA, its API access and its NetworkPolicies."""
        certificate = self._certificates.certificate(
            f"{namespace}-{TRIGGER_NAME}",
            namespace=namespace,
            secret_name=TRIGGER_TLS_SECRET,
            dns_names=service_dns_names(TRIGGER_NAME, namespace),
        )
        child = self.child_opts()
        name = f"{namespace}-{TRIGGER_NAME}"
        account = k8s.core.v1.ServiceAccount(name, **trigger.service_account(namespace), opts=child)
        role = k8s.rbac.v1.Role(
            name, **trigger.role(namespace, list(cronjobs.values())), opts=child
        )
        k8s.rbac.v1.RoleBinding(
            name,
            **trigger.role_binding(
                namespace, role=role.metadata["name"], account=account.metadata["name"]
            ),
            opts=child,
        )
        cronjob_map = pulumi.Output.all(**cronjobs).apply(
            lambda names: json.dumps(names, sort_keys=True)
        )
        k8s.apps.v1.Deployment(
            name,
            **trigger.deployment(
                namespace,
                image=self._image,
                account=account.metadata["name"],
                cronjob_map=cronjob_map,
                token_secret=token_secret,
                pull_secret=pull_secret,
            ),
            opts=self.child_opts(depends_on=[role, certificate]),
        )
        service = k8s.core.v1.Service(name, **trigger.service(namespace), opts=child)
        for policy_namespace, policy_name, spec in trigger.network_policies(namespace):
            k8s.networking.v1.NetworkPolicy(
                f"{policy_namespace}-{policy_name}",
                metadata={"name": policy_name, "namespace": policy_namespace},
                spec=spec,
                opts=self.child_opts(),
            )
        return service

    def _alert_route(
        self, target: TrainingTarget, service: k8s.core.v1.Service, token: pulumi.Output[str]
    ) -> None:
        """Routes the deployment's retrain alerts to its trigger. The Prometheus operator adds a
        `namespace="<this namespace>"` matcher to the route (see `alertmanager_config`)."""
        url = service.metadata["name"].apply(
            lambda name: trigger.webhook_url(name, target.namespace, target.deployment)
        )
        manifest = alertmanager_config(target, url=url, token_secret=token)
        name = f"{target.namespace}-{manifest['metadata']['name']}"
        custom_resource(name, manifest, self.child_opts())
