"""The Prometheus operator's side, as a double: turn rendered AlertmanagerConfig objects into the
Alertmanager configuration the operator would generate (no operator runs here).

What it reproduces, from prometheus-operator v0.85.0 (kube-prometheus-stack 77.10.0's appVersion)
`pkg/alertmanager/amcfg.go`:
- the base configuration is the chart's `alertmanager.config` (values.yaml of
  kube-prometheus-stack-77.10.0): group by namespace, receiver "null", Watchdog to "null";
- `AddAlertmanagerConfigs` puts each object's route before the base routes;
- `continueToNextRoute` sets `continue: true` on it, and the default `namespaceEnforcer`
  (`alertmanagerConfigMatcherStrategy: OnNamespace`) appends `namespace="<object namespace>"`;
- `convertMatchersV2` writes typed matchers as `Matcher.String()`, `name<op>"value"`;
- `makeNamespacedString` prefixes receiver names with `<namespace>/<name>/`;
- `convertWebhookConfig`/`convertHTTPConfig` copy url, send_resolved, max_alerts, read the
  `authorization.credentials` Secret key (type defaults to Bearer) and turn `tlsConfig.ca`'s
  Secret key into a file Alertmanager reads (`tls_config.ca_file`).

Two cluster services are stood in for by the caller: Secret values (`secrets`; a `tlsConfig`
key's value is the path of a file holding it, as the operator mounts it) and the Service DNS
name of the webhook URL (`resolve`, as cluster DNS would).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _matcher(matcher: dict) -> str:
    return f'{matcher["name"]}{matcher.get("matchType", "=")}"{_escape(matcher["value"])}"'


def _route(route: dict, prefix: str, namespace: str) -> dict:
    out = {
        "receiver": prefix + route["receiver"],
        "matchers": [_matcher(m) for m in route.get("matchers", [])] + [f'namespace="{namespace}"'],
        "continue": True,
    }
    for source, target in (
        ("groupBy", "group_by"),
        ("groupWait", "group_wait"),
        ("groupInterval", "group_interval"),
        ("repeatInterval", "repeat_interval"),
    ):
        if source in route:
            out[target] = route[source]
    return out


def _webhook(
    webhook: dict, namespace: str, secrets: dict[tuple[str, str, str], str], resolve
) -> dict:
    out: dict = {"url": resolve(webhook["url"])}
    if "sendResolved" in webhook:
        out["send_resolved"] = webhook["sendResolved"]
    if "maxAlerts" in webhook:
        out["max_alerts"] = webhook["maxAlerts"]
    authorization = webhook.get("httpConfig", {}).get("authorization")
    if authorization:
        reference = authorization["credentials"]
        out["http_config"] = {
            "authorization": {
                "type": authorization.get("type") or "Bearer",
                "credentials": secrets[(namespace, reference["name"], reference["key"])],
            }
        }
    ca = webhook.get("httpConfig", {}).get("tlsConfig", {}).get("ca", {}).get("secret")
    if ca:
        out.setdefault("http_config", {})["tls_config"] = {
            "ca_file": secrets[(namespace, ca["name"], ca["key"])]
        }
    return out


def operator_generated_config(
    alertmanager_configs: list[dict],
    *,
    secrets: dict[tuple[str, str, str], str],
    resolve: Callable[[str], str],
    base: dict | None = None,
) -> dict:
    """The Alertmanager configuration for `base` (the chart's `alertmanager.config`; default:
    the chart's own defaults) plus `alertmanager_configs`, whose routes come first."""
    routes, receivers = [], [{"name": "null"}] if base is None else list(base["receivers"])
    for config in sorted(
        alertmanager_configs, key=lambda c: (c["metadata"]["namespace"], c["metadata"]["name"])
    ):
        namespace = config["metadata"]["namespace"]
        prefix = f"{namespace}/{config['metadata']['name']}/"
        routes.append(_route(config["spec"]["route"], prefix, namespace))
        for receiver in config["spec"].get("receivers", []):
            receivers.append(
                {
                    "name": prefix + receiver["name"],
                    "webhook_configs": [
                        _webhook(w, namespace, secrets, resolve)
                        for w in receiver.get("webhookConfigs", [])
                    ],
                }
            )
    if base is not None:
        root = base["route"]
        return {**base, "route": {**root, "routes": [*routes, *root["routes"]]},
                "receivers": receivers}  # fmt: skip
    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "group_by": ["namespace"],
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "12h",
            "receiver": "null",
            "routes": [*routes, {"receiver": "null", "matchers": ['alertname="Watchdog"']}],
        },
        "receivers": receivers,
    }


def rendered_alertmanager_config(
    objects: dict[str, dict], trigger_url: str, token: str, ca_file: Path, base: dict | None = None
) -> dict:
    """The Alertmanager configuration for a render's AlertmanagerConfig objects, with cluster DNS
    stood in for: the retrain-trigger Service's URL resolves to `trigger_url` (a local trigger),
    every webhook's token Secret holds `token`, and its CA Secret (the namespace's platform CA
    bundle) is the file `ca_file`, which the local trigger's certificate is verified with."""
    (service,) = [
        o
        for o in objects.values()
        if o.get("kind") == "Service" and o["metadata"]["name"] == "retrain-trigger"
    ]
    service_host = f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc"
    local = urlsplit(trigger_url)

    def resolve(url: str) -> str:
        parts = urlsplit(url)
        if (parts.hostname, parts.port) != (service_host, service["spec"]["ports"][0]["port"]):
            raise ValueError(f"{url} does not name the trigger Service {service_host}")
        return urlunsplit(parts._replace(netloc=local.netloc))

    configs = [o for o in objects.values() if o.get("kind") == "AlertmanagerConfig"]
    secrets = {
        (c["metadata"]["namespace"], reference["name"], reference["key"]): value
        for c in configs
        for receiver in c["spec"]["receivers"]
        for webhook in receiver["webhookConfigs"]
        for reference, value in [
            (webhook["httpConfig"]["authorization"]["credentials"], token),
            (webhook["httpConfig"]["tlsConfig"]["ca"]["secret"], str(ca_file)),
        ]
    }
    return operator_generated_config(configs, secrets=secrets, resolve=resolve, base=base)
