"""Known executor and wrapper series written as OpenMetrics and backfilled with promtool."""

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.monitoring.promtool_series import EXECUTOR_BUCKETS

HISTOGRAM = "seldon_api_executor_server_requests_seconds"
REWARD = "seldon_api_model_feedback_reward"
FEEDBACK = "seldon_api_model_feedback"
PREDICTIONS = "mlops_model_predictions"


@dataclass(frozen=True)
class Traffic:
    """Per-minute increments one predictor receives, steady for `minutes` before the end."""

    deployment: str
    predictor: str
    ok_per_minute: int
    errors_per_minute: int = 0
    latency_bucket: float = 0.1
    feedback_per_minute: int = 0
    reward_per_minute: int = 0
    minutes: int = 60
    predicted: bool = True
    """The model server exposes its predictions (one class) for the ok requests."""
    server_feedback_per_minute: int | None = None
    """Feedbacks the model server counts, whatever their reward (default: those the executor
    answered, `feedback_per_minute`)."""
    reward_drop_minute: int | None = None
    """From this minute on the reward counter is one below the minute before: a lost update."""


def _labels(**labels: str) -> str:
    return ",".join(f'{key}="{value}"' for key, value in labels.items())


def _predictor_labels(traffic: Traffic, **labels: str) -> str:
    return _labels(
        namespace="seldon",
        pod=f"{traffic.deployment}-{traffic.predictor}-0",
        deployment_name=traffic.deployment,
        predictor_name=traffic.predictor,
        predictor_version="v1",
        **labels,
    )


def _histogram_lines(traffic: Traffic, service: str, code: str, per_minute: int, end: int):
    labels = _predictor_labels(traffic, service=service, method="post", code=code)
    for minute in range(traffic.minutes + 1):
        timestamp = end - (traffic.minutes - minute) * 60
        count = minute * per_minute
        for bound in (*EXECUTOR_BUCKETS, "+Inf"):
            in_bucket = bound == "+Inf" or bound >= traffic.latency_bucket
            value = count if in_bucket else 0
            yield f'{HISTOGRAM}_bucket{{{labels},le="{bound}"}} {value} {timestamp}'
        yield f"{HISTOGRAM}_count{{{labels}}} {count} {timestamp}"


def _model_server_lines(
    traffic: Traffic, metric: str, per_minute: int, end: int, drop_minute=None, **labels: str
):
    """A model-server counter, as the server exposes it on its metrics port."""
    labels = _predictor_labels(traffic, model_name="classifier", worker_id="7", **labels)
    for minute in range(traffic.minutes + 1):
        timestamp = end - (traffic.minutes - minute) * 60
        lost = per_minute + 1 if drop_minute is not None and minute >= drop_minute else 0
        yield f"{metric}_total{{{labels}}} {minute * per_minute - lost} {timestamp}"


def backfill(promtool: str, traffic: list[Traffic], end: int, storage: Path) -> None:
    """Write the series of `traffic` ending at `end` (Unix seconds) into a TSDB at `storage`."""
    lines = [f"# TYPE {HISTOGRAM} histogram"]
    for t in traffic:
        lines += _histogram_lines(t, "predictions", "200", t.ok_per_minute, end)
        if t.errors_per_minute:
            lines += _histogram_lines(t, "predictions", "500", t.errors_per_minute, end)
        if t.feedback_per_minute:
            lines += _histogram_lines(t, "feedback", "200", t.feedback_per_minute, end)
    lines.append(f"# TYPE {REWARD} counter")
    for t in traffic:
        if t.feedback_per_minute:
            lines += _model_server_lines(
                t, REWARD, t.reward_per_minute, end, t.reward_drop_minute, method="feedback"
            )
    lines.append(f"# TYPE {FEEDBACK} counter")
    for t in traffic:
        if t.feedback_per_minute:
            counted = t.server_feedback_per_minute
            counted = t.feedback_per_minute if counted is None else counted
            lines += _model_server_lines(t, FEEDBACK, counted, end, None, method="feedback")
    lines.append(f"# TYPE {PREDICTIONS} counter")
    for t in traffic:
        if t.predicted:
            lines += _model_server_lines(
                t, PREDICTIONS, t.ok_per_minute, end, None, method="predict", **{"class": "setosa"}
            )
    lines.append("# EOF")
    source = storage.parent / "series.om"
    source.write_text("\n".join(lines) + "\n")
    subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(storage)],
        check=True,
        capture_output=True,
        timeout=120,
    )
