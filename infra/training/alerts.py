"""The AlertmanagerConfig that sends a deployment's retrain alerts to its namespace's trigger."""

import re
from typing import Any

from infra.internal_tls import CA_BUNDLE_SECRET
from infra.prometheus_stack.config import ALERTMANAGER_CONFIG_LABELS
from infra.training.config import RETRAIN_ALERTS, TOKEN_KEY, TrainingTarget


def alertmanager_config(
    target: TrainingTarget, *, url: Any, token_secret: Any
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
                "groupWait": target.training.retrain_group_wait,
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
                                },
                                # The operator mounts it into Alertmanager as `tls_config.ca_file`
                                # (prometheus-operator v0.85.0 pkg/alertmanager/amcfg.go
                                # `convertHTTPConfig`); the Secret is in this object's namespace.
                                "tlsConfig": {
                                    "ca": {"secret": {"name": CA_BUNDLE_SECRET, "key": "ca.crt"}}
                                },
                            },
                        }
                    ],
                }
            ],
        },
    }
