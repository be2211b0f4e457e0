"""The contract between the platform's objects and what the pinned charts create: selectors,
Service names and ports, the flows the platform needs through the NetworkPolicies, the
dashboard sidecar's RBAC scope, Pod Security levels, and requests at autoscaler maxima."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ci.chart_check.cluster import Cluster, Pod, matches, plain_selector
from ci.chart_check.network import denial
from ci.chart_check.pod_security import violations

URL = re.compile(
    r"^https?://([a-z0-9-]+)\.([a-z0-9-]+)(?:\.svc(?:\.cluster\.local)?)?:(\d+)(?:/|$)"
)
SERVICE_HOST = re.compile(r"^([a-z0-9-]+)\.([a-z0-9-]+)\.svc(?:\.cluster\.local)?$")
ISTIO_ROOT_NAMESPACE = "istio-system"
UNROUTED = {"seldon-operator-unrouted"}
"""Gateways that select no proxy on purpose (infra/seldon/routing.py UnroutedGateway)."""


@dataclass(frozen=True)
class Finding:
    check: str
    subject: str
    problem: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.subject}: {self.problem}"


def _name(document: dict) -> str:
    metadata = document["metadata"]
    namespace = f"{metadata['namespace']}/" if metadata.get("namespace") else ""
    return f"{document['kind']} {namespace}{metadata['name']}"


def _pods_in(cluster: Cluster, namespace: str | None, selector: dict | None) -> list[Pod]:
    return [
        p
        for p in cluster.pods()
        if (namespace is None or p.namespace == namespace) and matches(selector, p.labels)
    ]


def _namespace_picks(cluster: Cluster, selector: dict | None, own: str, name: str) -> bool:
    """Prometheus Operator semantics: a nil namespace selector is the resource's own namespace,
    `{}` every namespace."""
    if selector is None:
        return name == own
    return matches(selector, cluster.namespace_labels(name))


def check_selectors(cluster: Cluster) -> list[Finding]:
    """Every platform selector picks what it is meant to: Istio workload selectors a proxy,
    NetworkPolicy selectors a pod, the chart's Prometheus and Alertmanager the platform's
    monitors, rules and AlertmanagerConfigs, PodMonitors a pod with the scraped port."""
    findings = []
    for kind in ("Gateway", "AuthorizationPolicy", "RequestAuthentication", "EnvoyFilter"):
        for _, resource in cluster.of_kind(kind):
            if resource["metadata"]["name"] in UNROUTED:
                continue
            spec = resource["spec"]
            selector = spec.get("selector") if kind == "Gateway" else None
            if kind != "Gateway":
                labels = (spec.get("selector") or spec.get("workloadSelector") or {}).get(
                    "matchLabels" if kind != "EnvoyFilter" else "labels"
                )
                selector = labels
            namespace = resource["metadata"]["namespace"]
            scope = None if kind == "Gateway" or namespace == ISTIO_ROOT_NAMESPACE else namespace
            if selector and not _pods_in(cluster, scope, plain_selector(selector)):
                findings.append(Finding("selectors", _name(resource), f"{selector} selects no pod"))
    for _, policy in cluster.of_kind("NetworkPolicy"):
        namespace = policy["metadata"]["namespace"]
        selector = policy["spec"].get("podSelector", {})
        if selector and not _pods_in(cluster, namespace, selector):
            findings.append(Finding("selectors", _name(policy), f"{selector} selects no pod"))
        for rule in [*(policy["spec"].get("ingress") or []), *(policy["spec"].get("egress") or [])]:
            for peer in [*(rule.get("from") or []), *(rule.get("to") or [])]:
                if "podSelector" not in peer or not peer["podSelector"]:
                    continue
                namespaces = [
                    n
                    for n in cluster.namespaces()
                    if ("namespaceSelector" not in peer and n == namespace)
                    or matches(peer.get("namespaceSelector"), cluster.namespace_labels(n))
                ]
                if not any(_pods_in(cluster, n, peer["podSelector"]) for n in namespaces):
                    findings.append(
                        Finding("selectors", _name(policy), f"peer {peer} selects no pod")
                    )
    findings += _operator_selectors(cluster)
    return findings


def _operator_selectors(cluster: Cluster) -> list[Finding]:
    findings = []
    picks = (
        ("Prometheus", "PodMonitor", "podMonitorSelector", "podMonitorNamespaceSelector"),
        ("Prometheus", "PrometheusRule", "ruleSelector", "ruleNamespaceSelector"),
        (
            "Alertmanager",
            "AlertmanagerConfig",
            "alertmanagerConfigSelector",
            "alertmanagerConfigNamespaceSelector",
        ),
    )
    for owner_kind, kind, selector_key, namespace_key in picks:
        owners = [o for _, o in cluster.of_kind(owner_kind)]
        for source, resource in cluster.of_kind(kind):
            if source != "platform":
                continue
            labels = resource["metadata"].get("labels") or {}
            namespace = resource["metadata"]["namespace"]
            picked = [
                o
                for o in owners
                if matches(o["spec"].get(selector_key), labels)
                and _namespace_picks(
                    cluster, o["spec"].get(namespace_key), o["metadata"]["namespace"], namespace
                )
            ]
            if not picked:
                findings.append(
                    Finding("selectors", _name(resource), f"no {owner_kind} selects it")
                )
    for _, monitor in cluster.of_kind("PodMonitor"):
        names = monitor["spec"].get("namespaceSelector", {}).get("matchNames") or [
            monitor["metadata"]["namespace"]
        ]
        pods = [p for n in names for p in _pods_in(cluster, n, monitor["spec"]["selector"])]
        if not pods:
            findings.append(Finding("selectors", _name(monitor), "selects no pod"))
        for endpoint in monitor["spec"]["podMetricsEndpoints"]:
            for pod in pods:
                if not pod.ports(endpoint["port"]):
                    findings.append(
                        Finding(
                            "selectors",
                            _name(monitor),
                            f"{pod.owner} has no port named {endpoint['port']!r}",
                        )
                    )
    return findings


def _service(cluster: Cluster, name: str, namespace: str) -> dict | None:
    for _, service in cluster.services():
        metadata = service["metadata"]
        if (metadata["name"], metadata["namespace"]) == (name, namespace):
            return service
    return None


def _targets(cluster: Cluster, service: dict, port: int) -> tuple[list[tuple[Pod, int]], str]:
    """(pod, container port) behind `service:port`, or why there are none."""
    entry = next((p for p in service["spec"].get("ports") or [] if p["port"] == port), None)
    if entry is None:
        ports = [p["port"] for p in service["spec"].get("ports") or []]
        return [], f"has no port {port} (ports {ports})"
    target = entry.get("targetPort", port)
    pods = _pods_in(
        cluster, service["metadata"]["namespace"], plain_selector(service["spec"]["selector"])
    )
    if not pods:
        return [], f"selects no pod ({service['spec']['selector']})"
    resolved = [(pod, n) for pod in pods for n in (pod.ports(target)[:1] or [])]
    if isinstance(target, int):
        resolved = [(pod, target) for pod in pods]
    if not resolved:
        return [], f"targetPort {target!r} names no container port of its pods"
    return resolved, ""


def needed_flows(cluster: Cluster) -> list[tuple[str, list[Pod], str, str, int]]:
    """(why, source pods, Service name, namespace, port) for every connection the platform
    relies on: the gateways to their routes' destinations, Prometheus to what the PodMonitors
    scrape (as a Service-less flow: name ""), Alertmanager to webhook receivers, and every pod
    to the in-cluster URLs in its environment."""
    flows = []
    gateways = {
        f"{g['metadata']['namespace']}/{g['metadata']['name']}": g
        for _, g in cluster.of_kind("Gateway")
    }
    for _, route in cluster.of_kind("VirtualService"):
        namespace = route["metadata"]["namespace"]
        proxies = [
            pod
            for ref in route["spec"].get("gateways") or []
            for gateway in [gateways.get(ref if "/" in ref else f"{namespace}/{ref}")]
            if gateway is not None
            for pod in _pods_in(cluster, None, plain_selector(gateway["spec"]["selector"]))
        ]
        for rule in route["spec"].get("http") or []:
            for destination in [
                *(r["destination"] for r in rule.get("route") or []),
                *([rule["mirror"]] if "mirror" in rule else []),
            ]:
                host = SERVICE_HOST.match(destination["host"])
                if host and proxies:
                    port = destination.get("port", {}).get("number", 80)
                    flows.append((_name(route), proxies, host[1], host[2], port))
    for _, receiver_owner in cluster.of_kind("AlertmanagerConfig"):
        alertmanagers = [p for p in cluster.pods() if p.owner.startswith("Alertmanager/")]
        for receiver in receiver_owner["spec"].get("receivers") or []:
            for webhook in receiver.get("webhookConfigs") or []:
                url = URL.match(str(webhook.get("url", "")))
                if url:
                    flows.append(
                        (_name(receiver_owner), alertmanagers, url[1], url[2], int(url[3]))
                    )
    flows += _http01_self_checks(cluster)
    for pod in cluster.pods():
        for container in pod.containers():
            for env in container.get("env") or []:
                url = URL.match(str(env.get("value", "")))
                if url:
                    flows.append(
                        (f"{pod.owner} ${env['name']}", [pod], url[1], url[2], int(url[3]))
                    )
    return flows


def _http01_self_checks(cluster: Cluster) -> list[tuple[str, list[Pod], str, str, int]]:
    """With an HTTP-01 solver, cert-manager's controller fetches the challenge from the public
    address on port 80 before the ACME server may (cert-manager v1.21.1 pkg/issuer/acme/http/
    http.go:146 `Check`, :215-219); inside the cluster that address leads to the pods behind
    the load balancer's Service."""
    http01 = [
        _name(issuer)
        for kind in ("ClusterIssuer", "Issuer")
        for _, issuer in cluster.of_kind(kind)
        if any("http01" in s for s in issuer["spec"].get("acme", {}).get("solvers") or [])
    ]
    controllers = [
        p
        for p in cluster.pods()
        if p.labels.get("app.kubernetes.io/name") == "cert-manager"
        and p.labels.get("app.kubernetes.io/component") == "controller"
    ]
    return [
        (f"{why} HTTP-01 self-check", controllers, meta["name"], meta["namespace"], 80)
        for why in http01
        for _, service in cluster.services()
        if service["spec"].get("type") == "LoadBalancer"
        and any(p["port"] == 80 for p in service["spec"].get("ports") or [])
        for meta in [service["metadata"]]
    ]


def check_services_and_flows(cluster: Cluster) -> list[Finding]:
    """Every Service the platform names exists with the port it uses and pods behind it, and the
    NetworkPolicies admit each flow (Prometheus' scrapes included)."""
    findings = []
    for why, sources, name, namespace, port in needed_flows(cluster):
        service = _service(cluster, name, namespace)
        if service is None:
            findings.append(Finding("services", why, f"Service {namespace}/{name} does not exist"))
            continue
        targets, problem = _targets(cluster, service, port)
        if problem:
            findings.append(Finding("services", why, f"Service {namespace}/{name} {problem}"))
        for source in sources:
            for pod, container_port in targets:
                reason = denial(cluster, source, pod, container_port)
                if reason:
                    findings.append(
                        Finding(
                            "network",
                            why,
                            f"{source.namespace}/{source.owner} -> {namespace}/{name}:{port} "
                            f"({pod.owner}:{container_port}): {reason}",
                        )
                    )
    prometheus = [p for p in cluster.pods() if p.owner.startswith("Prometheus/")]
    for _, monitor in cluster.of_kind("PodMonitor"):
        names = monitor["spec"].get("namespaceSelector", {}).get("matchNames") or [
            monitor["metadata"]["namespace"]
        ]
        for pod in [p for n in names for p in _pods_in(cluster, n, monitor["spec"]["selector"])]:
            for endpoint in monitor["spec"]["podMetricsEndpoints"]:
                for number in pod.ports(endpoint["port"]):
                    for source in prometheus:
                        reason = denial(cluster, source, pod, number)
                        if reason:
                            findings.append(
                                Finding(
                                    "network",
                                    _name(monitor),
                                    f"scrape of {pod.owner}:{number}: {reason}",
                                )
                            )
    return findings


SIDECAR_IMAGE = re.compile(r"(^|/)k8s-sidecar[:@]")


def _env(container: dict) -> dict[str, str]:
    return {e["name"]: str(e.get("value", "")) for e in container.get("env") or [] if "value" in e}


def _granted(cluster: Cluster, pod: Pod, namespace: str | None, resource: str) -> bool:
    """Whether the pod's ServiceAccount may list and watch `resource` in `namespace` (None:
    cluster-wide) through the Roles and ClusterRoles bound to it."""

    def allows(role: dict) -> bool:
        for rule in role.get("rules") or []:
            verbs = set(rule.get("verbs") or [])
            if (
                "" in (rule.get("apiGroups") or [])
                and {resource, "*"} & set(rule.get("resources") or [])
                and ("*" in verbs or {"list", "watch"} <= verbs)
            ):
                return True
        return False

    roles = {(r["kind"], r["metadata"].get("namespace"), r["metadata"]["name"]): r
             for kind in ("Role", "ClusterRole") for _, r in cluster.of_kind(kind)}  # fmt: skip
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        for _, binding in cluster.of_kind(kind):
            bound_namespace = binding["metadata"].get("namespace")
            if kind == "RoleBinding" and (namespace is None or bound_namespace != namespace):
                continue
            subjects = binding.get("subjects") or []
            if not any(
                s.get("kind") == "ServiceAccount"
                and s.get("name") == pod.service_account
                and s.get("namespace", bound_namespace) == pod.namespace
                for s in subjects
            ):
                continue
            ref = binding["roleRef"]
            role_namespace = bound_namespace if ref["kind"] == "Role" else None
            role = roles.get((ref["kind"], role_namespace, ref["name"]))
            if role is not None and allows(role):
                return True
    return False


def check_rbac(cluster: Cluster) -> list[Finding]:
    """Each Kubernetes watcher sidecar (kiwigrid k8s-sidecar, Grafana's dashboards and
    datasources) may list and watch what it searches, where it searches (its NAMESPACE: a list,
    `ALL`, or unset for its own namespace), and every object it is meant to load is there."""
    findings = []
    for pod in cluster.pods():
        for container in pod.containers():
            if not SIDECAR_IMAGE.search(container.get("image", "")):
                continue
            env = _env(container)
            searched = env.get("NAMESPACE", pod.namespace)
            namespaces = None if searched == "ALL" else searched.split(",")
            kinds = {"both": ["configmaps", "secrets"], "secret": ["secrets"]}.get(
                env.get("RESOURCE", "configmap"), ["configmaps"]
            )
            for kind in kinds:
                for namespace in namespaces or [None]:
                    if not _granted(cluster, pod, namespace, kind):
                        where = f"namespace {namespace}" if namespace else "all namespaces (ALL)"
                        findings.append(
                            Finding(
                                "rbac",
                                f"{pod.namespace}/{pod.owner} {container['name']}",
                                f"searches {kind} in {where}, but its ServiceAccount "
                                f"{pod.service_account!r} may not list and watch them there: "
                                "the sidecar gets 403 and loads nothing",
                            )
                        )
            if "LABEL" in env and namespaces is not None:
                for _, config_map in cluster.of_kind("ConfigMap"):
                    labels = config_map["metadata"].get("labels") or {}
                    value = env.get("LABEL_VALUE")
                    if env["LABEL"] in labels and value in (None, labels[env["LABEL"]]):
                        if config_map["metadata"]["namespace"] not in namespaces:
                            findings.append(
                                Finding(
                                    "rbac",
                                    _name(config_map),
                                    f"outside what {pod.owner} {container['name']} searches",
                                )
                            )
    return findings


def check_pod_security(cluster: Cluster) -> list[Finding]:
    """Every pod passes the Pod Security level its namespace enforces."""
    findings = []
    for pod in cluster.pods():
        level = cluster.namespace_labels(pod.namespace).get("pod-security.kubernetes.io/enforce")
        for problem in violations(pod.spec, level or "privileged"):
            findings.append(
                Finding("pod-security", f"{pod.namespace}/{pod.owner} ({pod.source})",
                        f"{level}: {problem}")
            )  # fmt: skip
    return findings


CPU = re.compile(r"^([0-9.]+)(m?)$")
MEMORY_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9,
                "T": 1e12, "": 1}  # fmt: skip


def cores(quantity: str) -> float:
    number, milli = CPU.match(str(quantity)).groups()
    return float(number) / (1000 if milli else 1)


def gibibytes(quantity: str) -> float:
    number = re.match(r"^[0-9.]+", str(quantity))[0]
    return float(number) * MEMORY_UNITS[str(quantity)[len(number) :]] / 2**30


@dataclass(frozen=True)
class Footprint:
    cpu: float
    memory_gib: float


def footprint(cluster: Cluster) -> tuple[Footprint, list[Finding]]:
    """Requests of every pod at its autoscaler's maximum (a DaemonSet on one node, the largest
    init container if larger than the rest), and the containers that declare none."""
    findings, cpu, memory = [], 0.0, 0.0
    for pod in cluster.pods():
        if pod.source == "cluster" or (pod.owner.startswith("Job/") and pod.source != "platform"):
            continue  # Helm hook Jobs finish before anything else is scheduled
        totals = []
        for group in (pod.spec.get("containers") or [], pod.spec.get("initContainers") or []):
            group_cpu = group_memory = 0.0
            for container in group:
                requests = (container.get("resources") or {}).get("requests") or {}
                if "cpu" not in requests or "memory" not in requests:
                    findings.append(
                        Finding("requests", f"{pod.namespace}/{pod.owner} ({pod.source})",
                                f"container {container['name']!r} requests no cpu or memory")
                    )  # fmt: skip
                group_cpu += cores(requests.get("cpu", "0"))
                group_memory += gibibytes(requests.get("memory", "0"))
            totals.append((group_cpu, group_memory))
        cpu += max(t[0] for t in totals) * pod.replicas
        memory += max(t[1] for t in totals) * pod.replicas
    return Footprint(round(cpu, 3), round(memory, 3)), findings


def check_requests(cluster: Cluster, budget: Footprint | None) -> list[Finding]:
    """Every container requests cpu and memory; with a budget, the total at autoscaler maxima
    fits it."""
    total, findings = footprint(cluster)
    if budget and (total.cpu > budget.cpu or total.memory_gib > budget.memory_gib):
        findings.append(
            Finding("requests", "stack", f"{total.cpu} CPU / {total.memory_gib} GiB at autoscaler "
                    f"maxima exceeds the budget {budget.cpu} CPU / {budget.memory_gib} GiB")
        )  # fmt: skip
    return findings
