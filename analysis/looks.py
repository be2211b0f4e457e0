"""What one look of an A/B experiment holds: every predictor's cumulative counts at one moment.
The evidence readers (`analysis.evidence`, `analysis.prometheus`) produce these, the consistency
checks and the decision rule read them."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

Count = Annotated[int, Field(ge=0)]


class PredictorCounts(BaseModel):
    """Cumulative counts of one predictor at one look."""

    model_config = ConfigDict(frozen=True)

    requests: Count
    """Prediction requests answered (any status)."""
    errors: Count = 0
    """Of those, answered 5xx."""
    feedback: Count
    """Feedback requests answered."""
    reward: Annotated[float, Field(ge=0)]
    """Sum of the 0/1 rewards of those feedbacks (`analysis.consistency` checks the range)."""
    p95_latency_seconds: Annotated[float, Field(ge=0)] | None = None
    shadow: bool = False
    """A mirrored predictor: never the baseline or the candidate."""


class Look(BaseModel):
    """Every predictor's cumulative counts at one moment of the experiment."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    predictors: dict[str, PredictorCounts] = Field(min_length=1)

    @field_validator("at")
    @classmethod
    def _utc_unless_stated(cls, at: datetime) -> datetime:
        return at if at.tzinfo else at.replace(tzinfo=UTC)
