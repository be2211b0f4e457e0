"""The cluster a stack would make, as objects: the platform's own, each chart's, and the pods
and Services the operators create from them (Seldon's predictors, Prometheus and
Alertmanager), so selectors, flows and requests can be checked without a cluster."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
SELDON_EXECUTOR_PORTS = (("http", 8000), ("metrics", 8000), ("grpc", 5001))
"""The ports of the executor the operator adds to every predictor pod (seldon-core v1.17.1
operator/controllers/seldondeployment_engine.go:261-264)."""


@dataclass
class Pod:
    """A pod template as it would run: where it comes from, its labels and spec, and how many
    replicas it may have (an autoscaler's maximum when one targets it)."""

    owner: str
    source: str
    namespace: str
    labels: dict
    spec: dict
    replicas: int = 1
    service_account: str = "default"

    def containers(self) -> list[dict]:
        return [*(self.spec.get("initContainers") or []), *(self.spec.get("containers") or [])]

    def ports(self, name_or_number: int | str) -> list[int]:
        """The container ports a Service, monitor or policy names, as numbers."""
        return [
            port["containerPort"]
            for container in self.spec.get("containers") or []
            for port in container.get("ports") or []
            if name_or_number in (port.get("name"), port["containerPort"])
        ]


@dataclass
class Cluster:
    platform: list[dict]
    charts: dict[str, list[dict]] = field(default_factory=dict)
    """Objects `helm template` renders, by release name."""

    @property
    def objects(self) -> list[tuple[str, dict]]:
        """(source, object): "platform", the release name, or "cluster" for what every cluster
        runs before the platform (CLUSTER_ADDONS)."""
        return (
            [("cluster", d) for d in CLUSTER_ADDONS]
            + [("platform", d) for d in self.platform]
            + [(release, d) for release, documents in self.charts.items() for d in documents]
        )

    def of_kind(self, kind: str) -> list[tuple[str, dict]]:
        return [(source, d) for source, d in self.objects if d.get("kind") == kind]

    def namespace_labels(self, name: str) -> dict:
        labels = {"kubernetes.io/metadata.name": name}
        for _, namespace in self.of_kind("Namespace"):
            if namespace["metadata"]["name"] == name:
                labels.update(namespace["metadata"].get("labels") or {})
        return labels

    def namespaces(self) -> list[str]:
        names = {d["metadata"]["name"] for _, d in self.of_kind("Namespace")}
        return sorted(names | {p.namespace for p in self.pods()})

    def pods(self) -> list[Pod]:
        return self._pods

    @cached_property
    def _pods(self) -> list[Pod]:
        """Computed once: build the Cluster with every chart's objects first."""
        pods = []
        autoscaled = _autoscaler_maxima(self)
        for source, workload in self.objects:
            kind, metadata = workload.get("kind"), workload.get("metadata", {})
            if kind in POD_TEMPLATE_KINDS:
                template = workload["spec"]["template"]
                key = (metadata.get("namespace"), kind, metadata["name"])
                replicas = workload["spec"].get("replicas", 1)
                if kind in ("DaemonSet", "Job"):
                    replicas = 1
                pods.append(
                    Pod(
                        f"{kind}/{metadata['name']}",
                        source,
                        metadata["namespace"],
                        (template.get("metadata") or {}).get("labels") or {},
                        template["spec"],
                        max(replicas, autoscaled.get(key, 0)),
                        template["spec"].get("serviceAccountName", "default"),
                    )
                )
            elif kind == "CronJob":
                job = workload["spec"]["jobTemplate"]["spec"]["template"]
                pods.append(
                    Pod(
                        f"CronJob/{metadata['name']}",
                        source,
                        metadata["namespace"],
                        (job.get("metadata") or {}).get("labels") or {},
                        job["spec"],
                        1,
                        job["spec"].get("serviceAccountName", "default"),
                    )
                )
            elif kind == "SeldonDeployment":
                pods += _predictor_pods(source, workload)
            elif kind in ("Prometheus", "Alertmanager"):
                pods.append(_monitoring_pod(source, workload))
        return pods

    def services(self) -> list[tuple[str, dict]]:
        """Every Service, the operator's predictor Services included."""
        services = self.of_kind("Service")
        for source, sdep in self.of_kind("SeldonDeployment"):
            for predictor in sdep["spec"]["predictors"]:
                name = f"{sdep['spec'].get('name', sdep['metadata']['name'])}-{predictor['name']}"
                services.append(
                    (
                        source,
                        {
                            "kind": "Service",
                            "metadata": {"name": name, "namespace": sdep["metadata"]["namespace"]},
                            # seldondeployment_controller.go@v1.17.1:704 (selector) and :710-716
                            "spec": {
                                "selector": {"seldon-app": name},
                                "ports": [
                                    {"name": "http", "port": 8000, "targetPort": 8000},
                                    {"name": "grpc", "port": 5001, "targetPort": 5001},
                                ],
                            },
                        },
                    )
                )
        return services


CLUSTER_ADDONS = [
    {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "coredns", "namespace": "kube-system"},
        "spec": {
            "replicas": 0,
            "template": {
                "metadata": {"labels": {"k8s-app": "kube-dns"}},
                "spec": {
                    "containers": [
                        {
                            "name": "coredns",
                            "ports": [
                                {"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                {"name": "dns-tcp", "containerPort": 53},
                            ],
                        }
                    ]
                },
            },
        },
    }
]
"""Cluster DNS as kubeadm (and so kind) deploys it: pods labelled `k8s-app: kube-dns` in
kube-system (kubernetes cmd/kubeadm/app/phases/addons/dns/manifests.go). Zero replicas: the
cluster's, not the stack's, footprint."""


def _autoscaler_maxima(cluster: Cluster) -> dict[tuple, int]:
    maxima = {}
    for _, hpa in cluster.of_kind("HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        key = (hpa["metadata"]["namespace"], target["kind"], target["name"])
        maxima[key] = hpa["spec"]["maxReplicas"]
    return maxima


def _predictor_pods(source: str, sdep: dict) -> list[Pod]:
    """One pod per predictor: its component spec plus the executor the operator adds, labelled
    as the operator labels them (seldondeployment_controller.go@v1.17.1:559-561, the
    predictor's own labels, `app.kubernetes.io/managed-by: seldon-core`)."""
    name = sdep["spec"].get("name", sdep["metadata"]["name"])
    pods = []
    for predictor in sdep["spec"]["predictors"]:
        spec = dict(predictor["componentSpecs"][0]["spec"])
        executor = {
            "name": "seldon-container-engine",
            "ports": [{"name": n, "containerPort": p} for n, p in SELDON_EXECUTOR_PORTS],
            "resources": predictor.get("svcOrchSpec", {}).get("resources", {}),
        }
        spec["containers"] = [*spec["containers"], executor]
        labels = {
            **(predictor.get("labels") or {}),
            "seldon-app": f"{name}-{predictor['name']}",
            "seldon-deployment-id": name,
            "app.kubernetes.io/managed-by": "seldon-core",
        }
        pods.append(
            Pod(
                f"SeldonDeployment/{name}/{predictor['name']}",
                source,
                sdep["metadata"]["namespace"],
                labels,
                spec,
                predictor.get("replicas", 1),
            )
        )
    return pods


def _monitoring_pod(source: str, resource: dict) -> Pod:
    """The StatefulSet pod the Prometheus Operator makes of a Prometheus or Alertmanager, with
    the labels it sets (prometheus-operator pkg/prometheus/server/statefulset.go and
    pkg/alertmanager/statefulset.go: `app.kubernetes.io/name`, `<kind>: <name>`)."""
    kind = resource["kind"].lower()
    name = resource["metadata"]["name"]
    spec = resource["spec"]
    container = {"name": kind, "resources": spec.get("resources", {}), "ports": []}
    if kind == "prometheus":
        container["ports"] = [{"name": "http-web", "containerPort": 9090}]
    else:
        container["ports"] = [{"name": "http-web", "containerPort": 9093}]
    return Pod(
        f"{resource['kind']}/{name}",
        source,
        resource["metadata"]["namespace"],
        {"app.kubernetes.io/name": kind, kind: name, "app.kubernetes.io/instance": name},
        {"containers": [container], "securityContext": spec.get("securityContext", {})},
        spec.get("replicas", 1),
        spec.get("serviceAccountName", "default"),
    )


def matches(selector: dict | None, labels: dict) -> bool:
    """Kubernetes label selector semantics (matchLabels and matchExpressions); an empty
    selector matches everything, a missing one (None) nothing."""
    if selector is None:
        return False
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values") or []
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and key in labels and labels[key] in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def plain_selector(selector: dict) -> dict:
    """A Service's or Istio workload's plain map as a label selector."""
    return {"matchLabels": selector}
