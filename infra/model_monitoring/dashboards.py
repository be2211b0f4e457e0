"""Grafana dashboards of a Seldon deployment (serving, A/B, model) and their ConfigMaps."""

from infra.model_monitoring import promql
from infra.model_monitoring.config import MonitoringConfig, PredictorTarget
from infra.model_monitoring.grafana import (
    Dashboard,
    FieldConfig,
    FieldDefaults,
    GridPos,
    Panel,
    panel_targets,
)
from infra.model_monitoring.manifests import metadata

GRAFANA_DASHBOARD_LABELS = {"grafana_dashboard": "1"}
"""Label the kube-prometheus-stack Grafana sidecar watches for dashboards."""

PANEL_HEIGHT = 8
FULL_WIDTH = 24
LATENCY_QUANTILES = (0.5, 0.95, 0.99)

Queries = list[tuple[str, str]]
Cell = tuple[str, str, FieldDefaults, Queries]
"""A panel to place: title, description, unit, (query, legend) pairs."""

REQUESTS = FieldDefaults(unit="reqps", min=0)
SHARE = FieldDefaults(unit="percentunit", min=0, max=1)
SECONDS = FieldDefaults(unit="s", min=0)
PSI = FieldDefaults(unit="none", min=0)


class _Layout:
    """Places panels left to right in rows of equal-width columns, numbering them."""

    def __init__(self) -> None:
        self.panels: list[Panel] = []
        self._y = 0

    def row(self, *cells: Cell) -> None:
        width = FULL_WIDTH // len(cells)
        for column, (title, description, unit, queries) in enumerate(cells):
            self.panels.append(
                Panel(
                    id=len(self.panels) + 1,
                    title=title,
                    description=description,
                    grid_pos=GridPos(x=column * width, y=self._y, w=width, h=PANEL_HEIGHT),
                    field_config=FieldConfig(defaults=unit),
                    targets=panel_targets(queries),
                )
            )
        self._y += PANEL_HEIGHT


def _latency_queries(scope: promql.Scope, window: str, legend: str) -> Queries:
    return [
        (promql.latency_quantile(scope, q, window), f"{legend} p{round(q * 100)}")
        for q in LATENCY_QUANTILES
    ]


def serving_dashboard(scope: promql.Scope, window: str) -> Dashboard:
    """Traffic, errors and latency of every predictor, as the Seldon executor measures them."""
    layout = _layout_rows(
        [
            (
                "Request rate",
                "Prediction requests per second reaching each predictor's executor.",
                REQUESTS,
                [(promql.request_rate(scope, window), "{{predictor_name}}")],
            ),
            (
                "Error ratio (5xx)",
                "Share of prediction requests answered with a 5xx status, per predictor.",
                SHARE,
                [(promql.error_ratio(scope, window), "{{predictor_name}}")],
            ),
        ],
        [
            (
                "Latency p50 / p95 / p99",
                "Executor-measured prediction latency quantiles per predictor.",
                SECONDS,
                _latency_queries(scope, window, "{{predictor_name}}"),
            )
        ],
    )
    return _dashboard(scope, "serving", "Serving", layout)


def _side_by_side_rows(name: str, only: promql.Scope, window: str) -> list[Cell]:
    """The A/B dashboard's column for one live predictor, top to bottom."""
    return [
        (
            f"{name}: request rate",
            f"Prediction requests per second served by {name}.",
            REQUESTS,
            [(promql.request_rate(only, window), name)],
        ),
        (
            f"{name}: error ratio (5xx)",
            f"Share of {name}'s prediction requests answered with a 5xx status.",
            SHARE,
            [(promql.error_ratio(only, window), name)],
        ),
        (
            f"{name}: latency",
            f"Executor-measured latency quantiles of {name}.",
            SECONDS,
            _latency_queries(only, window, name),
        ),
        (
            f"{name}: feedback success rate",
            f"Mean feedback reward per answered feedback request sent to {name}.",
            SHARE,
            [(promql.feedback_success_rate(only, window), name)],
        ),
    ]


def ab_dashboard(scope: promql.Scope, window: str, predictors: list[PredictorTarget]) -> Dashboard:
    """Live predictors side by side (champion first), and the shadow against the primary traffic."""
    live = sorted((p for p in predictors if not p.shadow), key=lambda p: -p.traffic)
    columns = [_side_by_side_rows(p.name, scope.only(p.name), window) for p in live]
    layout = _layout_rows(*(list(row) for row in zip(*columns, strict=True)))
    for shadow in (p for p in predictors if p.shadow):
        _shadow_rows(layout, scope, window, shadow.name)
    return _dashboard(scope, "ab", "A/B and shadow", layout)


def _shadow_rows(layout: _Layout, scope: promql.Scope, window: str, shadow: str) -> None:
    primary, mirror = scope.without(shadow), scope.only(shadow)
    layout.row(
        (
            f"{shadow} vs primary: request rate",
            "Mirrored requests the shadow receives against the requests the live predictors serve.",
            REQUESTS,
            [
                (promql.request_rate(primary, window, by=()), "primary"),
                (promql.request_rate(mirror, window, by=()), shadow),
            ],
        ),
        (
            f"{shadow} vs primary: error ratio (5xx)",
            "Share of 5xx answers of the shadow against the live predictors.",
            SHARE,
            [
                (promql.error_ratio(primary, window, by=()), "primary"),
                (promql.error_ratio(mirror, window, by=()), shadow),
            ],
        ),
    )
    layout.row(
        (
            f"{shadow} vs primary: p95 latency",
            "p95 latency of the shadow against the live predictors.",
            SECONDS,
            [
                (promql.latency_quantile(primary, 0.95, window, by=()), "primary p95"),
                (promql.latency_quantile(mirror, 0.95, window, by=()), f"{shadow} p95"),
            ],
        ),
        (
            f"{shadow} vs primary: prediction mix",
            "Share of rows predicted per class by the shadow against the live predictors.",
            SHARE,
            [
                (promql.class_share(primary, window, by=()), "primary {{class}}"),
                (promql.class_share(mirror, window, by=()), f"{shadow} {{{{class}}}}"),
            ],
        ),
    )


def model_dashboard(scope: promql.Scope, window: str, config: MonitoringConfig) -> Dashboard:
    """What the models see and answer: prediction class mix, feature drift, out-of-range inputs."""
    layout = _layout_rows(
        [
            (
                "Prediction class mix",
                "Share of rows predicted per class, per predictor.",
                SHARE,
                [(promql.class_share(scope, window), "{{predictor_name}} {{class}}")],
            )
        ],
        [
            (
                "Feature drift (PSI)",
                "Population stability index of each feature's recent inputs against the training "
                f"data; the drift alert fires above {config.drift_psi_threshold}.",
                PSI,
                [(promql.feature_drift(scope), "{{predictor_name}} {{feature}}")],
            ),
            (
                "Out-of-range inputs",
                "Input values per second outside the training min/max, per feature.",
                FieldDefaults(unit="short", min=0),
                [(promql.out_of_range_rate(scope, window), "{{predictor_name}} {{feature}}")],
            ),
        ],
    )
    return _dashboard(scope, "model", "Model", layout)


def _layout_rows(*rows: list[Cell]) -> _Layout:
    layout = _Layout()
    for cells in rows:
        layout.row(*cells)
    return layout


def _dashboard(scope: promql.Scope, kind: str, title: str, layout: _Layout) -> Dashboard:
    return Dashboard(
        uid=f"mlops-{scope.namespace}-{scope.deployment}-{kind}"[:40],
        title=f"MLOps / {scope.namespace}/{scope.deployment}: {title}",
        tags=["mlops-platform", "seldon", scope.deployment],
        panels=layout.panels,
    )


def dashboards(
    config: MonitoringConfig,
    *,
    deployment_name: str,
    namespace: str,
    predictors: list[PredictorTarget],
) -> dict[str, Dashboard]:
    """Every dashboard of one deployment, keyed by kind (serving, ab, model)."""
    scope = promql.Scope(namespace, deployment_name)
    window = config.rate_window
    return {
        "serving": serving_dashboard(scope, window),
        "ab": ab_dashboard(scope, window, predictors),
        "model": model_dashboard(scope, window, config),
    }


def dashboard_config_maps(
    config: MonitoringConfig,
    *,
    deployment_name: str,
    serving_namespace: str,
    monitoring_namespace: str,
    predictors: list[PredictorTarget],
) -> list[dict]:
    """One ConfigMap per dashboard in the monitoring namespace, labelled for Grafana's sidecar."""
    built = dashboards(
        config,
        deployment_name=deployment_name,
        namespace=serving_namespace,
        predictors=predictors,
    )
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata(
                f"{serving_namespace}-{deployment_name}-dashboard-{kind}",
                monitoring_namespace,
                GRAFANA_DASHBOARD_LABELS,
            ),
            "data": {f"{dashboard.uid}.json": dashboard.to_json()},
        }
        for kind, dashboard in built.items()
    ]
