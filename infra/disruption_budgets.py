"""PodDisruptionBudgets of the platform's own replicated workloads: a node drain or a cluster
upgrade evicts one pod of each at a time, so the others keep serving.

Which workloads prod runs with more than one pod, and how each gets its budget:
- predictors: `pdbSpec` in the SeldonDeployment (infra/deployments/scaling.py);
- MLflow (`mlflowReplicas`): `mlflow_budget` below, declared by infra/mlflow.py;
- istiod (2-3 pods in `ha`): the chart's own, on by default when `autoscaleMin` > 1 (istio 1.30.3
  istio-discovery/templates/poddisruptionbudget.yaml, `global.defaultPodDisruptionBudget.enabled:
  true` and `pdb.minAvailable: 1` in values.yaml);
- the ingress gateway (2-5 pods in `ha`): the chart's `podDisruptionBudget` value, empty by
  default (gateway/values.yaml:187), set by infra/sizing.py.
Prometheus, Alertmanager, Grafana, the operators and the request-log sink run one pod each.
"""

ONE_AT_A_TIME = {"maxUnavailable": 1}
"""As `maxUnavailable` (not `minAvailable: N-1`) it stays right while an autoscaler moves N."""


def pod_disruption_budget(name: str, namespace: str, selector: dict[str, str]) -> dict:
    """A policy/v1 PodDisruptionBudget (metadata and spec) over the pods `selector` matches."""
    return {
        "metadata": {"name": name, "namespace": namespace, "labels": dict(selector)},
        "spec": {**ONE_AT_A_TIME, "selector": {"matchLabels": dict(selector)}},
    }
