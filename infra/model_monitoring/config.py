"""Alert thresholds, windows and scrape settings of the model monitoring, with sane defaults.

The integrator embeds `MonitoringConfig` as the stack key `mlops-platform:monitoring`; every
field is optional in the stack file, so `{}` gives the defaults below.
"""

from typing import Annotated

from pydantic import Field, model_validator

from analysis.promql import PromDuration, duration_seconds
from infra.config_types import CamelModel, DnsLabel, ObjectConfig

Ratio = Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)]
"""A fraction strictly between 0 and 1."""
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
"""A finite number above zero: `.inf` would silently disable the alert it sets."""


class MonitoringConfig(ObjectConfig):
    """What the alerts consider a breach, how long it must last, and how often pods are scraped."""

    scrape_interval: PromDuration = "30s"
    """How often Prometheus scrapes the Seldon pods (executor and model server)."""

    rate_window: PromDuration = "5m"
    """Range of `rate()` in dashboards and alerts; at least 4 scrape intervals."""

    latency_slo_seconds: Positive = 0.5
    """Latency objective of a predictor at `latency_slo_quantile`, measured at the executor."""

    latency_slo_quantile: Ratio = 0.95
    """Quantile the latency objective applies to (0.95 = p95)."""

    latency_for: PromDuration = "10m"
    """How long the objective must be breached before the alert fires."""

    error_ratio_threshold: Ratio = 0.05
    """Share of prediction requests answered 5xx above which a predictor is failing."""

    error_ratio_for: PromDuration = "5m"
    """How long the error ratio must stay above the threshold."""

    no_traffic_for: PromDuration = "15m"
    """How long a predictor due some traffic may get none while the deployment is serving."""

    drift_psi_threshold: Positive = 0.2
    """Population stability index of a feature above which its input distribution has drifted."""

    drift_for: PromDuration = "30m"
    """How long the drift must be sustained before the alert fires."""

    bad_request_ratio_threshold: Ratio = 0.2
    """Share of prediction requests answered 4xx above which callers' input broke (a schema
    change upstream): the model server is fine, nobody gets an answer."""

    bad_request_for: PromDuration = "5m"
    """How long the 4xx share must stay above the threshold."""

    accuracy_window: PromDuration = "1h"
    """Recent feedback whose success rate is compared with `accuracyBaselineWindow`'s."""

    accuracy_baseline_window: PromDuration = "7d"
    """Longer feedback history a predictor's recent success rate is judged against."""

    accuracy_drop: Ratio = 0.05
    """Drop of the feedback success rate (absolute, e.g. 0.05 = 5 points) that means the model
    no longer fits the world: the alert retrains."""

    accuracy_min_feedback: int = Field(default=50, ge=1, strict=True)
    """Feedbacks the recent window needs before a drop is believed."""

    @model_validator(mode="after")
    def _baseline_longer_than_recent(self) -> "MonitoringConfig":
        if duration_seconds(self.accuracy_baseline_window) <= duration_seconds(
            self.accuracy_window
        ):
            raise ValueError(
                f"accuracyBaselineWindow {self.accuracy_baseline_window!r} must be longer than "
                f"accuracyWindow {self.accuracy_window!r}"
            )
        return self

    @model_validator(mode="after")
    def _rate_window_covers_scrapes(self) -> "MonitoringConfig":
        if duration_seconds(self.rate_window) < 4 * duration_seconds(self.scrape_interval):
            raise ValueError(
                f"rateWindow {self.rate_window!r} must be at least 4 x scrapeInterval "
                f"{self.scrape_interval!r}, otherwise rate() has too few samples to be stable"
            )
        return self


class PredictorTarget(CamelModel):
    """A predictor of the SeldonDeployment as monitoring sees it: its name and expected traffic."""

    name: DnsLabel
    traffic: Annotated[int, Field(ge=0, le=100)] = 0
    """Percent of the deployment's requests (for a shadow: the mirrored percent)."""

    shadow: bool = False
