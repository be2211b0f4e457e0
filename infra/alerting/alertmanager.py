"""The Alertmanager configuration the kube-prometheus-stack chart renders (`alertmanager.config`,
kube-prometheus-stack 77.10.0 values.yaml:508-548), built from `AlertingConfig`.

Helm merges these values into the chart's, so every list the chart sets (route, receivers,
inhibit rules) is given in full here and the chart's `null` default receiver is gone. The
credentials never enter the config: the Secret `RECEIVER_SECRET` is mounted by the chart's
`alertmanager.alertmanagerSpec.secrets` at /etc/alertmanager/secrets/<name>/ (values.yaml:924-928)
and each receiver reads its file through Alertmanager's `*_file` fields (v0.28.1, the chart's
image, values.yaml:916: `auth_password_file`, `api_url_file`, `routing_key_file`,
`http_config.authorization.credentials_file`).
"""

from infra.alerting.config import CREDENTIAL_KEYS, AlertingConfig, ReceiverConfig

RECEIVER_SECRET = "alertmanager-receivers"
SECRETS_DIR = f"/etc/alertmanager/secrets/{RECEIVER_SECRET}"
HEARTBEAT_ONLY = "heartbeat-only"
"""Receives `Watchdog` (always firing by design, a dead man's switch for an external monitor)
and `InfoInhibitor` (exists only to inhibit info alerts); every other alert reaches a person."""


def credential_file(key: str) -> str:
    """Where the mounted Secret puts the credential of secret stack key `key`."""
    return f"{SECRETS_DIR}/{key}"


def _receiver(receiver: ReceiverConfig) -> dict:
    key = credential_file(CREDENTIAL_KEYS[receiver.kind])
    if receiver.email is not None:
        email = receiver.email
        kind = "email_configs"
        entry = {
            "to": email.to,
            "from": email.from_,
            "smarthost": email.smarthost,
            "auth_username": email.auth_username,
            "auth_password_file": key,
            "require_tls": True,
        }
    elif receiver.slack is not None:
        kind = "slack_configs"
        entry = {
            "api_url_file": key,
            "channel": receiver.slack.channel,
            "title": "{{ .CommonLabels.alertname }} ({{ .CommonLabels.severity }})",
            "text": "{{ range .Alerts }}{{ .Annotations.summary }}\n"
            "runbook: {{ .Annotations.runbook_url }}\n{{ end }}",
        }
    elif receiver.pagerduty is not None:
        kind = "pagerduty_configs"
        entry = {"routing_key_file": key, "url": "https://events.pagerduty.com/v2/enqueue"}
    else:
        kind = "webhook_configs"
        entry = {
            "url": receiver.webhook.url,
            "http_config": {"authorization": {"type": "Bearer", "credentials_file": key}},
        }
    return {"name": receiver.name, kind: [{**entry, "send_resolved": True}]}


def alertmanager_config(config: AlertingConfig) -> dict:
    """The whole Alertmanager configuration: default receiver, one route per severity routed
    elsewhere, the chart's inhibit rules (values.yaml:510-533) kept."""
    severity_routes = [
        {"receiver": receiver, "matchers": [f'severity="{severity}"']}
        for severity, receiver in config.severity_routes.items()
    ]
    return {
        "global": {"resolve_timeout": "5m"},
        "inhibit_rules": [
            {
                "source_matchers": ['severity="critical"'],
                "target_matchers": ['severity=~"warning|info"'],
                "equal": ["namespace", "alertname"],
            },
            {
                "source_matchers": ['severity="warning"'],
                "target_matchers": ['severity="info"'],
                "equal": ["namespace", "alertname"],
            },
            {
                "source_matchers": ['alertname="InfoInhibitor"'],
                "target_matchers": ['severity="info"'],
                "equal": ["namespace"],
            },
            {"target_matchers": ['alertname="InfoInhibitor"']},
        ],
        "route": {
            "receiver": config.default,
            "group_by": ["namespace", "alertname"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": config.repeat_interval,
            "routes": [
                {
                    "receiver": HEARTBEAT_ONLY,
                    "matchers": ['alertname=~"Watchdog|InfoInhibitor"'],
                },
                *severity_routes,
                # Catch-all: the operator prepends each AlertmanagerConfig's route (the retrain
                # webhook) with `continue: true`, and Alertmanager falls back to the root's
                # receiver only when no child route matched (dispatch/route.go, `Match`), so
                # without it a drift alert would reach the trigger and no person.
                {"receiver": config.default},
            ],
        },
        "receivers": [
            *(_receiver(receiver) for receiver in config.receivers),
            {"name": HEARTBEAT_ONLY},
        ],
        "templates": ["/etc/alertmanager/config/*.tmpl"],
    }


def chart_values(config: AlertingConfig) -> dict:
    """The chart values that install `alertmanager_config` and mount the receivers' Secret."""
    return {
        "config": alertmanager_config(config),
        "alertmanagerSpec": {"secrets": [RECEIVER_SECRET]},
    }
