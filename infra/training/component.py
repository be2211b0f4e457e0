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
import re
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from infra.cluster.component import ClusterAccess
from infra.component import PlatformComponent
from infra.model_image.component import image_reference, kind_registry, registry_login
from infra.model_image.config import ModelImageConfig
from infra.namespaces.spec import API_SERVER_PORTS
from infra.prometheus_stack.config import ALERTMANAGER_CONFIG_LABELS
from infra.prometheus_stack.config import NAMESPACE as MONITORING
from infra.secrets import MlflowLogin, credentials_secret, generated_password
from infra.training.admission import (
    TRAINING_CRONJOB_LABELS,
    retrain_job_policy,
    retrain_job_policy_binding,
)
from infra.training.config import (
    ALERTMANAGER_PODS,
    GATE_FAILED_EXIT_CODE,
    LEDGER_KEY_KEY,
    RETRAIN_ALERTS,
    RETRAIN_COOLDOWN_SECONDS,
    RUN_DEADLINE_SECONDS,
    TOKEN_DIR,
    TOKEN_KEY,
    TRAIN_CONTAINER,
    TRAINING_SOURCE,
    TRAINING_UID,
    TRIGGER_NAME,
    TRIGGER_PORT,
    TRIGGER_PORT_NAME,
    TrainingImageConfig,
    TrainingTarget,
    cronjob_name,
)
from infra.workloads import (
    CONTAINER_SECURITY_CONTEXT,
    http_probe,
    pod_security_context,
    resources,
    scratch_volume,
    secret_env,
)


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
    """Training CronJobs, retrain triggers and the Alertmanager routes to them."""

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
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("mlops:training:ContinuousTraining", name, opts)
        self._ledger_key = ledger_key
        self._image = image
        self._tracking_uri = tracking_uri
        token = generated_password(f"{name}-webhook-token", self.child_opts())
        login = registry_login(registry)
        self.cronjob_names = {}
        for namespace in sorted({t.namespace for t in targets}):
            in_namespace = [t for t in targets if t.namespace == namespace]
            secrets = _NamespaceSecrets(
                token=credentials_secret(
                    f"{namespace}-retrain-webhook-token",
                    namespace=namespace,
                    data={TOKEN_KEY: token},
                    opts=self.child_opts(),
                ).metadata["name"],
                mlflow=pipeline_login.secret(
                    f"{namespace}-mlflow-pipeline", namespace=namespace, opts=self.child_opts()
                ),
                ledger=credentials_secret(
                    f"{namespace}-model-ledger-key",
                    namespace=namespace,
                    data={LEDGER_KEY_KEY: self._ledger_key},
                    opts=self.child_opts(),
                ).metadata["name"],
                pull=(
                    credentials_secret(
                        f"{namespace}-training-image-pull",
                        namespace=namespace,
                        data={".dockerconfigjson": login.docker_config()},
                        opts=self.child_opts(),
                        secret_type="kubernetes.io/dockerconfigjson",
                    ).metadata["name"]
                    if login is not None
                    else None
                ),
            )
            cronjobs = {
                t.deployment: self._cronjob(t, secrets).metadata["name"] for t in in_namespace
            }
            self.cronjob_names.update(cronjobs)
            service = self._trigger(namespace, cronjobs, secrets)
            for target in in_namespace:
                self._alert_route(target, service, secrets.token)
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

    def _cronjob(
        self, target: TrainingTarget, secrets: "_NamespaceSecrets"
    ) -> k8s.batch.v1.CronJob:
        """The deployment's training run: `model train` reads the dataset from its URI, logs
        its hashes, trains, registers and gates a version, and moves `candidate` if it passed."""
        env = [
            {"name": "MLFLOW_TRACKING_URI", "value": self._tracking_uri},
            {"name": "HOME", "value": "/tmp"},
            *MlflowLogin.env(secrets.mlflow),
            # The run records its `candidate` as a signed ledger entry (model/promotion.py).
            secret_env("MODEL_LEDGER_KEY", secrets.ledger, LEDGER_KEY_KEY),
        ]
        labels = {**TRAINING_CRONJOB_LABELS, "mlops-platform/deployment": target.deployment}
        pod_spec = {
            "restartPolicy": "Never",
            # Training talks to MLflow only, never to the Kubernetes API.
            "automountServiceAccountToken": False,
            "securityContext": pod_security_context(TRAINING_UID),
            **secrets.pull_secrets(),
            "containers": [
                {
                    "name": TRAIN_CONTAINER,
                    "image": self._image,
                    "command": ["python", "-m", "model", "train"],
                    "args": [
                        "--model-name",
                        target.registered_model,
                        "--data",
                        target.training.dataset,
                        # Retrain on new data: a run on the rows the latest version was
                        # trained on would reproduce it, so it stops there (exit 0).
                        "--only-new-data",
                        "--json",
                    ],
                    "env": env,
                    "resources": resources("500m", "1Gi", "2", "2Gi"),
                    "securityContext": CONTAINER_SECURITY_CONTEXT,
                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                }
            ],
            "volumes": [scratch_volume(size="2Gi")],
        }
        return k8s.batch.v1.CronJob(
            f"{target.namespace}-{cronjob_name(target.deployment)}",
            metadata={
                "name": cronjob_name(target.deployment),
                "namespace": target.namespace,
                "labels": labels,
                "annotations": {
                    "checkov.io/skip1": "CKV_K8S_35=the MLflow client reads its login only from "
                    "MLFLOW_TRACKING_USERNAME/_PASSWORD, as every platform pod (DESIGN 4.3)"
                },
            },
            spec={
                "schedule": target.training.schedule,
                "suspend": target.training.suspend,
                "concurrencyPolicy": "Forbid",
                "startingDeadlineSeconds": 3600,
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 3,
                "jobTemplate": {
                    "metadata": {"labels": labels},
                    "spec": {
                        # One retry for faults (MLflow unreachable, node lost); a failed gate
                        # ends the Job at once, since the same data gives the same verdict.
                        "backoffLimit": 1,
                        "podFailurePolicy": {
                            "rules": [
                                {
                                    "action": "FailJob",
                                    "onExitCodes": {
                                        "containerName": TRAIN_CONTAINER,
                                        "operator": "In",
                                        "values": [GATE_FAILED_EXIT_CODE],
                                    },
                                }
                            ]
                        },
                        "activeDeadlineSeconds": RUN_DEADLINE_SECONDS,
                        "ttlSecondsAfterFinished": RETRAIN_COOLDOWN_SECONDS,
                        "template": {"metadata": {"labels": labels}, "spec": pod_spec},
                    },
                },
            },
            opts=self.child_opts(),
        )

    def _trigger(
        self, namespace: str, cronjobs: dict[str, pulumi.Output[str]], secrets: "_NamespaceSecrets"
    ) -> k8s.core.v1.Service:
        """The webhook receiver of one namespace and exactly the API access it needs."""
        labels = {
            "app.kubernetes.io/name": TRIGGER_NAME,
            "app.kubernetes.io/part-of": "mlops-platform",
        }
        child = self.child_opts()
        account = k8s.core.v1.ServiceAccount(
            f"{namespace}-{TRIGGER_NAME}",
            metadata={"name": TRIGGER_NAME, "namespace": namespace, "labels": labels},
            automount_service_account_token=False,
            opts=child,
        )
        role = k8s.rbac.v1.Role(
            f"{namespace}-{TRIGGER_NAME}",
            metadata={"name": TRIGGER_NAME, "namespace": namespace, "labels": labels},
            rules=[
                # list: the one-at-a-time check (continuous_training/retrainer.py).
                {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "list"]},
                {
                    "apiGroups": ["batch"],
                    "resources": ["cronjobs"],
                    "verbs": ["get"],
                    "resourceNames": list(cronjobs.values()),
                },
            ],
            opts=child,
        )
        k8s.rbac.v1.RoleBinding(
            f"{namespace}-{TRIGGER_NAME}",
            metadata={"name": TRIGGER_NAME, "namespace": namespace, "labels": labels},
            role_ref={
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": role.metadata["name"],
            },
            subjects=[
                {"kind": "ServiceAccount", "name": account.metadata["name"], "namespace": namespace}
            ],
            opts=child,
        )
        cronjob_map = pulumi.Output.all(**cronjobs).apply(
            lambda names: json.dumps(names, sort_keys=True)
        )
        k8s.apps.v1.Deployment(
            f"{namespace}-{TRIGGER_NAME}",
            metadata={
                "name": TRIGGER_NAME,
                "namespace": namespace,
                "labels": labels,
                "annotations": {
                    "checkov.io/skip1": "CKV_K8S_38=the trigger creates Jobs through the "
                    "Kubernetes API with this token, bound to a Role of create jobs/get cronjobs"
                },
            },
            spec={
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": account.metadata["name"],
                        # The one pod of the platform that calls the Kubernetes API.
                        "automountServiceAccountToken": True,
                        "securityContext": pod_security_context(TRAINING_UID),
                        **secrets.pull_secrets(),
                        "containers": [
                            {
                                "name": TRIGGER_NAME,
                                "image": self._image,
                                "command": ["python", "-m", "continuous_training", "serve"],
                                "env": [
                                    {
                                        "name": "RETRAIN_TOKEN_FILE",
                                        "value": f"{TOKEN_DIR}/{TOKEN_KEY}",
                                    },
                                    {
                                        "name": "RETRAIN_NAMESPACE",
                                        "valueFrom": {
                                            "fieldRef": {"fieldPath": "metadata.namespace"}
                                        },
                                    },
                                    {"name": "RETRAIN_CRONJOBS", "value": cronjob_map},
                                    {"name": "RETRAIN_PORT", "value": str(TRIGGER_PORT)},
                                ],
                                "ports": [
                                    {"name": TRIGGER_PORT_NAME, "containerPort": TRIGGER_PORT}
                                ],
                                "resources": resources("20m", "96Mi", "500m", "256Mi"),
                                "readinessProbe": http_probe("/healthz", TRIGGER_PORT_NAME, 5),
                                "livenessProbe": http_probe("/healthz", TRIGGER_PORT_NAME, 15),
                                "securityContext": CONTAINER_SECURITY_CONTEXT,
                                "volumeMounts": [
                                    {"name": "tmp", "mountPath": "/tmp"},
                                    {"name": "token", "mountPath": TOKEN_DIR, "readOnly": True},
                                ],
                            }
                        ],
                        "volumes": [
                            scratch_volume(size="64Mi"),
                            {
                                "name": "token",
                                "secret": {"secretName": secrets.token, "defaultMode": 0o400},
                            },
                        ],
                    },
                },
            },
            opts=self.child_opts(depends_on=[role]),
        )
        service = k8s.core.v1.Service(
            f"{namespace}-{TRIGGER_NAME}",
            metadata={"name": TRIGGER_NAME, "namespace": namespace, "labels": labels},
            spec={
                "selector": labels,
                "ports": [
                    {
                        "name": TRIGGER_PORT_NAME,
                        "port": TRIGGER_PORT,
                        "targetPort": TRIGGER_PORT_NAME,
                    }
                ],
            },
            opts=child,
        )
        self._network_policies(namespace, labels)
        return service

    def _network_policies(self, namespace: str, labels: dict[str, str]) -> None:
        """Alertmanager -> trigger, trigger -> API server; added to the namespaces' default deny
        (NetworkPolicies are additive), so no other pod, model pods of the namespace included,
        reaches the trigger."""
        trigger = {"matchLabels": labels}
        alertmanager = {"matchLabels": ALERTMANAGER_PODS}
        tcp = [{"protocol": "TCP", "port": TRIGGER_PORT}]
        policies = [
            (
                namespace,
                "retrain-trigger-from-alertmanager",
                {
                    "podSelector": trigger,
                    "policyTypes": ["Ingress"],
                    "ingress": [
                        {
                            "from": [
                                {
                                    "namespaceSelector": {
                                        "matchLabels": {"kubernetes.io/metadata.name": MONITORING}
                                    },
                                    "podSelector": alertmanager,
                                }
                            ],
                            "ports": tcp,
                        }
                    ],
                },
            ),
            (
                namespace,
                "retrain-trigger-to-api-server",
                {
                    "podSelector": trigger,
                    "policyTypes": ["Egress"],
                    # The API server is no pod and its address is unknown at render time: allowed
                    # by port alone, so a serving namespace holds no ipBlock (Cilium does not
                    # match every API server address with an ipBlock either).
                    "egress": [{"ports": API_SERVER_PORTS}],
                },
            ),
            (
                MONITORING,
                f"alertmanager-to-retrain-trigger-{namespace}",
                {
                    "podSelector": alertmanager,
                    "policyTypes": ["Egress"],
                    "egress": [
                        {
                            "to": [
                                {
                                    "namespaceSelector": {
                                        "matchLabels": {"kubernetes.io/metadata.name": namespace}
                                    },
                                    "podSelector": trigger,
                                }
                            ],
                            "ports": tcp,
                        }
                    ],
                },
            ),
        ]
        for policy_namespace, policy_name, spec in policies:
            k8s.networking.v1.NetworkPolicy(
                f"{policy_namespace}-{policy_name}",
                metadata={"name": policy_name, "namespace": policy_namespace},
                spec=spec,
                opts=self.child_opts(),
            )

    def _alert_route(
        self, target: TrainingTarget, service: k8s.core.v1.Service, token: pulumi.Output[str]
    ) -> None:
        """Routes the deployment's retrain alerts to its trigger. The Prometheus operator adds a
        `namespace="<this namespace>"` matcher to the route (see `alertmanager_config`)."""
        url = service.metadata["name"].apply(
            lambda name: (
                f"http://{name}.{target.namespace}.svc:{TRIGGER_PORT}"
                f"/v1/retrain/{target.deployment}"
            )
        )
        manifest = alertmanager_config(target, url=url, token_secret=token)
        k8s.apiextensions.CustomResource(
            f"{target.namespace}-{manifest['metadata']['name']}",
            api_version=manifest["apiVersion"],
            kind=manifest["kind"],
            metadata=manifest["metadata"],
            spec=manifest["spec"],
            opts=self.child_opts(),
        )


@dataclass(frozen=True)
class _NamespaceSecrets:
    """Names of the Secrets a namespace's training pods and trigger read."""

    token: pulumi.Output[str]
    mlflow: k8s.core.v1.Secret
    """The pipeline user's MLflow login."""
    ledger: pulumi.Output[str]
    """The promotion ledger's signing key."""
    pull: pulumi.Output[str] | None

    def pull_secrets(self) -> dict:
        """The pod spec's `imagePullSecrets`, when the registry needs a login."""
        return {"imagePullSecrets": [{"name": self.pull}]} if self.pull is not None else {}


def alertmanager_config(
    target: TrainingTarget, *, url: pulumi.Input[str], token_secret: pulumi.Input[str]
) -> dict:
    """The AlertmanagerConfig (monitoring.coreos.com/v1alpha1) sending the deployment's retrain
    alerts to its trigger with the bearer token from the Secret `token_secret`.

    Prometheus operator v0.85.0 (kube-prometheus-stack 77.10.0), pkg/alertmanager/amcfg.go:
    `AddAlertmanagerConfigs` prepends each AlertmanagerConfig's route to the top-level routes
    with `continue: true`, prefixes receiver names with `<namespace>/<name>/`, and the default
    `namespaceEnforcer` appends the matcher `namespace="<the object's namespace>"`; so this object
    lives in the deployment's namespace, where the rules' `namespace` label points.
    """
    alerts = "|".join(re.escape(name) for name in RETRAIN_ALERTS)
    return {
        "apiVersion": "monitoring.coreos.com/v1alpha1",
        "kind": "AlertmanagerConfig",
        "metadata": {
            "name": f"{target.deployment}-retrain",
            "namespace": target.namespace,
            "labels": ALERTMANAGER_CONFIG_LABELS,
        },
        "spec": {
            "route": {
                "receiver": "retrain",
                "matchers": [
                    {"name": "alertname", "value": alerts, "matchType": "=~"},
                    {"name": "deployment_name", "value": target.deployment, "matchType": "="},
                ],
                "groupBy": ["namespace", "deployment_name"],
                "groupWait": "30s",
                "groupInterval": "5m",
                "repeatInterval": "1h",
            },
            "receivers": [
                {
                    "name": "retrain",
                    "webhookConfigs": [
                        {
                            "url": url,
                            "sendResolved": False,
                            "maxAlerts": 10,
                            "httpConfig": {
                                "authorization": {
                                    "type": "Bearer",
                                    "credentials": {"name": token_secret, "key": TOKEN_KEY},
                                }
                            },
                        }
                    ],
                }
            ],
        },
    }
