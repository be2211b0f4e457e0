"""The stack that creates a kind cluster fits a laptop: at most 3 CPU and 6 GiB of requests.

Summed over what the offline render writes (docs/sizing.md says how):
- every Kubernetes workload object (containers, or the largest init container if larger),
  times its replicas; a DaemonSet counts once (kind runs one node);
- every SeldonDeployment predictor: its containers plus the executor the operator adds beside
  them (`svcOrchSpec.resources`), times the predictor's replicas;
- every Helm release's workloads, read from the values the stack passes, times their replicas;
  an autoscaled one (istiod, the ingress gateway) at its autoscaler's maximum, the chart's
  default of 5 if the stack sets none; a chart workload the stack declares no requests for fails
  the test (its chart default would count instead).
No cluster runs here: this checks the declared requests, not what the scheduler would see.
"""

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from infra.mesh.sizing import SIZING as MESH_SIZING
from infra.stack_config import load_stack_file
from stacks.render import documents

from .conftest import STACKS, creates_kind_cluster, stack_file

CPU_BUDGET = 3.0
MEMORY_BUDGET_GIB = 6.0
POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "Pod"}


def istiod_replicas(values: dict) -> int:
    """Most istiod pods: its HPA's max while `autoscaleEnabled` (chart default true, 1 to 5:
    istio 1.30.3 istio-discovery/values.yaml:4-6, templates/autoscale.yaml), else replicaCount."""
    if values.get("autoscaleEnabled", True):
        return values.get("autoscaleMax", 5)
    return values.get("replicaCount", 1)


def gateway_replicas(values: dict) -> int:
    """Most gateway pods: its HPA's max while `autoscaling.enabled` (chart default true, 1 to 5:
    gateway/values.yaml:82-85, templates/hpa.yaml), else replicaCount (unset: 1)."""
    autoscaling = values.get("autoscaling", {})
    if autoscaling.get("enabled", True):
        return autoscaling.get("maxReplicas", 5)
    return values.get("replicaCount") or 1


CHART_WORKLOADS: dict[str, list[tuple[str, int | Callable[[dict], int]]]] = {
    # chart -> (values path of a container's resources, containers of that kind in the stack,
    # or how to read that count from the values)
    # istio/istio 1.30.3 manifests/charts/istio-control/istio-discovery (templates/deployment.yaml
    # reads .Values.resources) and manifests/charts/gateway/values.yaml (resources): requests
    # 500m/2Gi and 100m/128Mi if unset.
    "base": [],
    "istiod": [("resources", istiod_replicas)],
    "gateway": [("resources", gateway_replicas)],
    # seldon-core v1.17.1 helm-charts/seldon-core-operator/values.yaml: manager.cpuRequest ...
    "seldon-core-operator": [("manager", 1)],
    # prometheus-community/helm-charts kube-prometheus-stack-77.10.0 values.yaml; the config
    # reloader runs beside Prometheus and Alertmanager, Grafana has the dashboards and
    # datasources sidecars, the admission webhook patch Job runs at install.
    # cert-manager v1.21.1 deploy/charts/cert-manager/values.yaml: no default requests.
    "cert-manager": [
        ("resources", 1),
        ("webhook.resources", 1),
        ("cainjector.resources", 1),
        ("startupapicheck.resources", 1),
    ],
    "kube-prometheus-stack": [
        ("prometheus.prometheusSpec.resources", 1),
        ("alertmanager.alertmanagerSpec.resources", 1),
        ("prometheusOperator.resources", 1),
        ("prometheusOperator.prometheusConfigReloader.resources", 2),
        ("prometheusOperator.admissionWebhooks.patch.resources", 1),
        ("grafana.resources", 1),
        ("grafana.sidecar.resources", 2),
        ("kube-state-metrics.resources", 1),
        ("prometheus-node-exporter.resources", 1),
    ],
}
UNITS = {"": 1, "m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}


def quantity(value: str | int | float) -> float:
    """A Kubernetes quantity as a number (cores for CPU, bytes for memory)."""
    number, unit = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(value)).groups()
    return float(number) * UNITS[unit]


def requests_of(resources: dict | None, where: str) -> tuple[float, float]:
    requests = (resources or {}).get("requests")
    assert requests and "cpu" in requests and "memory" in requests, f"{where}: no requests"
    return quantity(requests["cpu"]), quantity(requests["memory"])


def pod_requests(pod: dict, where: str) -> tuple[float, float]:
    containers = [
        requests_of(c.get("resources"), f"{where}/{c['name']}") for c in pod["containers"]
    ]
    inits = [
        requests_of(c.get("resources"), f"{where}/{c['name']}")
        for c in pod.get("initContainers", [])
    ]
    cpu = max([sum(c for c, _ in containers), *(c for c, _ in inits)])
    memory = max([sum(m for _, m in containers), *(m for _, m in inits)])
    return cpu, memory


def lookup(values: dict, path: str) -> dict | None:
    for key in path.split("."):
        values = values.get(key) if isinstance(values, dict) else None
    return values


def chart_requests(release: dict) -> Iterator[tuple[str, float, float]]:
    chart, values = release["chart"], release["values"]
    assert chart in CHART_WORKLOADS, f"chart {chart} has no known workloads: add it here"
    for path, count in CHART_WORKLOADS[chart]:
        count = count(values) if callable(count) else count
        where = f"helm {release['helmRelease']} {path} x{count}"
        found = lookup(values, path)
        if chart == "seldon-core-operator":
            found = {"requests": {"cpu": found["cpuRequest"], "memory": found["memoryRequest"]}}
        cpu, memory = requests_of(found, where)
        yield where, cpu * count, memory * count


def stack_requests(files: dict[str, dict]) -> list[tuple[str, float, float]]:
    """(what, cores, bytes) for every workload the rendered stack asks the scheduler for."""
    rows = []
    for name, document in files.items():
        kind = document.get("kind")
        if kind in POD_TEMPLATE_KINDS:
            spec = document["spec"]
            pod = spec if kind == "Pod" else spec["template"]["spec"]
            replicas = 1 if kind in {"DaemonSet", "Job", "Pod"} else spec.get("replicas", 1)
            cpu, memory = pod_requests(pod, name)
            rows.append((name, cpu * replicas, memory * replicas))
        elif kind == "CronJob":
            continue  # runs on a schedule, not resident; a laptop stack may suspend it
        elif kind == "SeldonDeployment":
            for predictor in document["spec"]["predictors"]:
                where = f"{name} predictor {predictor['name']}"
                replicas = predictor.get("replicas", 1)
                for component in predictor["componentSpecs"]:
                    cpu, memory = pod_requests(component["spec"], where)
                    rows.append((where, cpu * replicas, memory * replicas))
                cpu, memory = requests_of(predictor.get("svcOrchSpec", {}).get("resources"), where)
                rows.append((f"{where} executor", cpu * replicas, memory * replicas))
        elif "helmRelease" in document:
            rows.extend(chart_requests(document))
    return rows


LAPTOP_STACKS = [stack for stack in STACKS if creates_kind_cluster(stack)]


@pytest.mark.parametrize("stack", LAPTOP_STACKS)
def test_kind_stack_requests_fit_a_laptop(declared: dict, stack: str) -> None:
    rows = stack_requests(documents(declared[stack]))
    cpu = sum(c for _, c, _ in rows)
    memory_gib = sum(m for _, _, m in rows) / 2**30
    table = "\n".join(f"{c:6.3f} CPU {m / 2**20:7.0f} MiB  {what}" for what, c, m in rows)

    assert cpu <= CPU_BUDGET and memory_gib <= MEMORY_BUDGET_GIB, (
        f"{stack}: {cpu:.2f} CPU, {memory_gib:.2f} GiB requested\n{table}"
    )
    assert any("executor" in what for what, _, _ in rows)


def test_a_stack_without_declared_chart_requests_is_caught(declared: dict) -> None:
    files = documents(declared[LAPTOP_STACKS[0]])
    release = next(doc for doc in files.values() if doc.get("chart") == "istiod")
    release["values"].pop("resources")

    with pytest.raises(AssertionError, match="istiod resources x1: no requests"):
        stack_requests(files)


def test_laptop_stack_is_the_kind_stack() -> None:
    assert LAPTOP_STACKS == ["local"], Path("Pulumi.local.yaml")


@pytest.mark.parametrize("stack", STACKS)
def test_istio_autoscalers_count_at_their_maxima(declared: dict, stack: str) -> None:
    """istiod's and the gateway's pods count as many times as their autoscalers may run them,
    and a stack that sets no range counts the charts' 5."""
    files = documents(declared[stack])
    sizing = load_stack_file(stack_file(stack)).sizing.pick(MESH_SIZING)
    rows = {
        what.split()[1]: (what, cpu)
        for what, cpu, _ in stack_requests(files)
        if what[:5] == "helm "
    }
    for release, replicas, requested in (
        ("istiod", sizing.istiod_replicas, sizing.istiod),
        ("istio-ingressgateway", sizing.ingress_gateway_replicas, sizing.ingress_gateway),
    ):
        what, cpu = rows[release]
        assert what.endswith(f"x{replicas.maximum}")
        assert cpu == pytest.approx(replicas.maximum * quantity(requested["requests"]["cpu"]))
    istiod = next(doc for doc in files.values() if doc.get("chart") == "istiod")
    for key in ("autoscaleEnabled", "autoscaleMin", "autoscaleMax", "replicaCount"):
        istiod["values"].pop(key, None)
    assert "istiod resources x5" in [w for w, _, _ in stack_requests(files) if "istiod" in w][0]
