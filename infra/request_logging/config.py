"""`deployments[].requestLogging`: whether a deployment's executor logs what it serves to the
platform's request-log sink, which share of requests is kept, and for how long.

Pydantic only; the sink (`python -m request_log`) reads the same settings from its environment.
"""

from typing import Annotated

from pydantic import Field, StringConstraints

from infra.config_types import ObjectConfig

ColumnName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$")]


class RequestLoggingConfig(ObjectConfig):
    """Logged requests, responses and feedback, joined by request id into training data."""

    sample_rate: float = Field(default=1.0, gt=0, le=1, allow_inf_nan=False)
    """Share of requests kept (0 < rate <= 1). The choice is a hash of the request id, so a
    request's response and feedback are kept exactly when the request is."""

    retention_days: int = Field(default=30, ge=1, le=3650)
    """Days a logged row and a written version are kept; older ones are deleted."""

    export_interval_minutes: int = Field(default=60, ge=1, le=1440)
    """How often the sink writes a new version of the joined rows to the artifact store."""

    feature_names: list[ColumnName] | None = Field(default=None, min_length=1)
    """Column names, in the model's order, of requests sent without `data.names`; unset:
    `x0`, `x1`, ... Set them to the model spec's features to train on the logged rows."""

    label_column: ColumnName = "label"
    """Name of the label column (the feedback's `truth`) in the written data; set it to the
    model spec's target (e.g. `species`) to train on the logged rows."""
