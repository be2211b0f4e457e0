"""The retrain trigger of one namespace as plain manifests: the webhook receiver Alertmanager
calls, exactly the API access it needs (create Jobs, get its namespace's training CronJobs),
and the NetworkPolicies that let only Alertmanager reach it and it reach the API server. It serves
only TLS, with a certificate from the platform CA (Secret `TRIGGER_TLS_SECRET`)."""

from typing import Any

from infra.internal_tls import SERVER_TLS_DIR, server_tls_mount, server_tls_volume
from infra.labels import APP, PART_OF
from infra.namespaces.spec import API_SERVER_PORTS
from infra.prometheus_stack.config import NAMESPACE as MONITORING
from infra.training.config import (
    ALERTMANAGER_PODS,
    TOKEN_DIR,
    TOKEN_KEY,
    TRAINING_UID,
    TRIGGER_NAME,
    TRIGGER_PORT,
    TRIGGER_PORT_NAME,
    TRIGGER_TLS_SECRET,
)
from infra.training.cronjob import pull_secrets
from infra.workloads import (
    CONTAINER_SECURITY_CONTEXT,
    http_probe,
    pod_security_context,
    resources,
    scratch_volume,
)

LABELS = {APP: TRIGGER_NAME, **PART_OF}


def metadata(namespace: str) -> dict:
    return {"name": TRIGGER_NAME, "namespace": namespace, "labels": LABELS}


def service_account(namespace: str) -> dict:
    return {"metadata": metadata(namespace), "automount_service_account_token": False}


def role(namespace: str, cronjobs: list[Any]) -> dict:
    """Create Jobs, and get only the namespace's training CronJobs (named in `cronjobs`)."""
    return {
        "metadata": metadata(namespace),
        "rules": [
            # list: the one-at-a-time check (continuous_training/retrainer.py).
            {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "list"]},
            {
                "apiGroups": ["batch"],
                "resources": ["cronjobs"],
                "verbs": ["get"],
                "resourceNames": cronjobs,
            },
        ],
    }


def role_binding(namespace: str, *, role: Any, account: Any) -> dict:
    return {
        "metadata": metadata(namespace),
        "role_ref": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
    }


def deployment(
    namespace: str,
    *,
    image: Any,
    account: Any,
    cronjob_map: Any,
    token_secret: Any,
    pull_secret: Any,
) -> dict:
    """The trigger's Deployment; `cronjob_map` is the JSON of deployment -> CronJob name."""
    return {
        "metadata": {
            **metadata(namespace),
            "annotations": {
                "checkov.io/skip1": "CKV_K8S_38=the trigger creates Jobs through the "
                "Kubernetes API with this token, bound to a Role of create jobs/get cronjobs"
            },
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": LABELS},
            "template": {
                "metadata": {"labels": LABELS},
                "spec": {
                    "serviceAccountName": account,
                    # The one pod of the platform that calls the Kubernetes API.
                    "automountServiceAccountToken": True,
                    "securityContext": pod_security_context(TRAINING_UID),
                    **pull_secrets(pull_secret),
                    "containers": [
                        {
                            "name": TRIGGER_NAME,
                            "image": image,
                            "command": ["python", "-m", "continuous_training", "serve"],
                            "env": [
                                {"name": "RETRAIN_TOKEN_FILE", "value": f"{TOKEN_DIR}/{TOKEN_KEY}"},
                                {
                                    "name": "RETRAIN_NAMESPACE",
                                    "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
                                },
                                {"name": "RETRAIN_CRONJOBS", "value": cronjob_map},
                                {"name": "RETRAIN_PORT", "value": str(TRIGGER_PORT)},
                                {"name": "RETRAIN_TLS_DIR", "value": SERVER_TLS_DIR},
                            ],
                            "ports": [{"name": TRIGGER_PORT_NAME, "containerPort": TRIGGER_PORT}],
                            "resources": resources("20m", "96Mi", "500m", "256Mi"),
                            "readinessProbe": http_probe("/healthz", TRIGGER_PORT_NAME, 5, "HTTPS"),
                            "livenessProbe": http_probe("/healthz", TRIGGER_PORT_NAME, 15, "HTTPS"),
                            "securityContext": CONTAINER_SECURITY_CONTEXT,
                            "volumeMounts": [
                                {"name": "tmp", "mountPath": "/tmp"},
                                {"name": "token", "mountPath": TOKEN_DIR, "readOnly": True},
                                server_tls_mount(),
                            ],
                        }
                    ],
                    "volumes": [
                        scratch_volume(size="64Mi"),
                        {
                            "name": "token",
                            "secret": {"secretName": token_secret, "defaultMode": 0o400},
                        },
                        server_tls_volume(TRIGGER_TLS_SECRET),
                    ],
                },
            },
        },
    }


def service(namespace: str) -> dict:
    return {
        "metadata": metadata(namespace),
        "spec": {
            "selector": LABELS,
            "ports": [
                {"name": TRIGGER_PORT_NAME, "port": TRIGGER_PORT, "targetPort": TRIGGER_PORT_NAME}
            ],
        },
    }


def network_policies(namespace: str) -> list[tuple[str, str, dict]]:
    """(namespace, name, spec) of each policy: Alertmanager -> trigger, trigger -> API server;
    added to the namespaces' default deny (NetworkPolicies are additive), so no other pod, model
    pods of the namespace included, reaches the trigger."""
    trigger = {"matchLabels": LABELS}
    alertmanager = {"matchLabels": ALERTMANAGER_PODS}
    tcp = [{"protocol": "TCP", "port": TRIGGER_PORT}]
    return [
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
                # by port alone, so a serving namespace holds no ipBlock (Cilium does not match
                # every API server address with an ipBlock either).
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


def webhook_url(service_name: str, namespace: str, deployment: str) -> str:
    """Where Alertmanager posts `deployment`'s retrain alerts."""
    return f"https://{service_name}.{namespace}.svc:{TRIGGER_PORT}/v1/retrain/{deployment}"
