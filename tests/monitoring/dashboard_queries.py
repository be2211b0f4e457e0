"""The dashboards' queries as Grafana sends them for one deployment: variables substituted, and
each repeated panel expanded once per predictor, as Grafana repeats it."""

from infra.model_monitoring.config import MonitoringConfig
from infra.model_monitoring.dashboards import PREDICTOR_VARIABLE, SHADOW_VARIABLE, dashboards


def resolved_queries(
    config: MonitoringConfig,
    *,
    namespace: str,
    deployment: str,
    predictors: list[str],
    shadow: str | None,
) -> list[tuple[str, str]]:
    """(where, expr) of every dashboard target with the variables set to this deployment;
    without a shadow, the panels comparing one are left out (they show nothing then)."""
    resolved = []
    for kind, dashboard in dashboards(config).items():
        for panel in dashboard.panels:
            if shadow is None and any(f"${SHADOW_VARIABLE}" in t.expr for t in panel.targets):
                continue
            values = predictors if panel.repeat == PREDICTOR_VARIABLE else [None]
            for value in values:
                for target in panel.targets:
                    expr = (
                        target.expr.replace("$namespace", namespace)
                        .replace("$deployment", deployment)
                        .replace(f"${SHADOW_VARIABLE}", shadow or "")
                    )
                    if value is not None:
                        expr = expr.replace(f"${PREDICTOR_VARIABLE}", value)
                    assert "$" not in expr, f"unresolved variable in {kind}: {expr}"
                    where = f"{kind}: {panel.title.replace('$predictor', value or '')} "
                    resolved.append((f"{where}[{target.ref_id}]", expr))
    return resolved


def deployment_queries(config: MonitoringConfig, deployment) -> list[tuple[str, str]]:
    """`resolved_queries` for a `DeploymentUnderTest`, its live predictors side by side."""
    return resolved_queries(
        config,
        namespace=deployment.namespace,
        deployment=deployment.name,
        predictors=[p.name for p in deployment.predictors if not p.shadow],
        shadow=deployment.shadow,
    )
