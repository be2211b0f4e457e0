"""Grafana dashboards of the stack's Seldon deployments (serving, A/B, model), one copy each.

Every dashboard has `namespace` and `deployment` variables, filled from the series Prometheus
holds, so a new deployment appears in the pickers without a new dashboard. The A/B dashboard
repeats its column per selected `predictor` and compares a chosen `shadow` with the rest.
"""

from analysis import promql
from infra.model_monitoring.config import MonitoringConfig
from infra.model_monitoring.grafana import (
    Dashboard,
    FieldConfig,
    FieldDefaults,
    GridPos,
    Panel,
    Variable,
    panel_targets,
    templating,
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

SCOPE = promql.Scope("$namespace", "$deployment")
"""Series of the deployment picked in the dashboard's variables."""
PREDICTOR_VARIABLE = "predictor"
SHADOW_VARIABLE = "shadow"
MAX_PER_ROW = 4

_INVENTORY = f"{promql.EXECUTOR_SERVER_SECONDS}_count"


def _label_values(label: str, *matchers: str) -> str:
    return f"label_values({_INVENTORY}{{{', '.join(matchers)}}}, {label})"


_DEPLOYMENT_VARIABLES = [
    Variable(name="namespace", label="Namespace", query=_label_values("namespace")),
    Variable(
        name="deployment",
        label="Deployment",
        query=_label_values("deployment_name", 'namespace="$namespace"'),
    ),
]
_PREDICTOR_QUERY = _label_values(
    promql.PREDICTOR, 'namespace="$namespace"', 'deployment_name="$deployment"'
)
_AB_VARIABLES = [
    *_DEPLOYMENT_VARIABLES,
    Variable(
        name=PREDICTOR_VARIABLE,
        label="Predictors side by side",
        query=_PREDICTOR_QUERY,
        multi=True,
        include_all=True,
    ),
    Variable(name=SHADOW_VARIABLE, label="Shadow", query=_PREDICTOR_QUERY),
]


class _Layout:
    """Places panels left to right in rows of equal-width columns, numbering them."""

    def __init__(self) -> None:
        self.panels: list[Panel] = []
        self._y = 0

    def row(self, *cells: Cell, repeat: str | None = None) -> None:
        """One row of `cells`; with `repeat`, each cell spans the row and Grafana lays out one
        copy per selected value of that variable side by side."""
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
                    repeat=repeat,
                    repeat_direction="h" if repeat else None,
                    max_per_row=MAX_PER_ROW if repeat else None,
                )
            )
        self._y += PANEL_HEIGHT


def _latency_queries(scope: promql.Scope, window: str, legend: str) -> Queries:
    return [
        (promql.latency_quantile(scope, q, window), f"{legend} p{round(q * 100)}")
        for q in LATENCY_QUANTILES
    ]


def serving_dashboard(window: str) -> Dashboard:
    """Traffic, errors and latency of every predictor, as the Seldon executor measures them."""
    scope = SCOPE
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
    return _dashboard("serving", "Serving", layout, _DEPLOYMENT_VARIABLES)


def _side_by_side_rows(window: str) -> list[Cell]:
    """The A/B dashboard's column, repeated for each selected predictor, top to bottom."""
    name = f"${PREDICTOR_VARIABLE}"
    only = SCOPE.only(name)
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


def ab_dashboard(window: str) -> Dashboard:
    """The selected predictors side by side, and the chosen shadow against the primary traffic."""
    layout = _Layout()
    for cell in _side_by_side_rows(window):
        layout.row(cell, repeat=PREDICTOR_VARIABLE)
    _shadow_rows(layout, window)
    return _dashboard("ab", "A/B and shadow", layout, _AB_VARIABLES)


def _shadow_rows(layout: _Layout, window: str) -> None:
    shadow = f"${SHADOW_VARIABLE}"
    primary, mirror = SCOPE.without(shadow), SCOPE.only(shadow)
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


def model_dashboard(window: str) -> Dashboard:
    """What the models see and answer: prediction class mix, feature drift, out-of-range inputs."""
    scope = SCOPE
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
                "data; the drift alert fires above the deployment's driftPsiThreshold.",
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
    return _dashboard("model", "Model", layout, _DEPLOYMENT_VARIABLES)


def _layout_rows(*rows: list[Cell]) -> _Layout:
    layout = _Layout()
    for cells in rows:
        layout.row(*cells)
    return layout


def _dashboard(kind: str, title: str, layout: _Layout, variables: list[Variable]) -> Dashboard:
    return Dashboard(
        uid=f"mlops-{kind}",
        title=f"MLOps / {title}",
        tags=["mlops-platform", "seldon"],
        panels=layout.panels,
        templating=templating(variables),
    )


def dashboards(config: MonitoringConfig) -> dict[str, Dashboard]:
    """Every dashboard of the stack, keyed by kind (serving, ab, model); `rate()` over the
    stack's `rateWindow`."""
    window = config.rate_window
    return {
        "serving": serving_dashboard(window),
        "ab": ab_dashboard(window),
        "model": model_dashboard(window),
    }


def dashboard_config_maps(config: MonitoringConfig, *, monitoring_namespace: str) -> list[dict]:
    """One ConfigMap per dashboard in the monitoring namespace, labelled for Grafana's sidecar."""
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata(
                f"mlops-dashboard-{kind}", monitoring_namespace, GRAFANA_DASHBOARD_LABELS
            ),
            "data": {f"{dashboard.uid}.json": dashboard.to_json()},
        }
        for kind, dashboard in dashboards(config).items()
    ]
