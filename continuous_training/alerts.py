"""What an Alertmanager webhook notification asks for: a retrain of this route's deployment, or
nothing. Everything the body claims is checked, since the token is the only secret.

Every alert must carry `deployment_name` and `namespace` labels naming this route's deployment
and the trigger's namespace (the platform's rules set both; a missing label would otherwise let
one deployment's alert retrain another). A firing alert starts a run only while it is fresh:
`startsAt` at most `MAX_ALERT_AGE` ago (and not ahead of the clock by more than `CLOCK_SKEW`),
and `endsAt` unset or still ahead. Alertmanager exposes `endsAt` of a firing alert as the zero
time `0001-01-01T00:00:00Z` (prometheus/alertmanager v0.28 `types/types.go`, `Alerts`: "If the
end timestamp is not reached yet, do not expose it"), so a past `endsAt` on a firing alert means
a replayed or forged notification.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from continuous_training.job_from_cronjob import RetrainReason

MAX_ALERT_AGE = timedelta(hours=24)
"""A drift still firing after a day has had four retrain cooldowns (6 h each) to be fixed by
retraining; further runs would repeat the same data. It needs a person, not another run."""
CLOCK_SKEW = timedelta(minutes=5)
"""How far an alert's `startsAt` may be ahead of this pod's clock."""
ZERO_TIME = "0001-01-01T00:00:00Z"
"""Go's zero `time.Time` as Alertmanager encodes it: no end known yet."""
REQUIRED_LABELS = ("deployment_name", "namespace")


class BadWebhook(ValueError):
    """A body that is not an Alertmanager webhook notification for this route."""


class StaleAlerts(ValueError):
    """Every firing alert of the notification is outside the freshness window."""


def reason_from_webhook(
    body: Any, *, deployment: str, namespace: str, now: datetime
) -> RetrainReason | None:
    """The first fresh firing alert as a reason; None when no alert fires.

    Raises BadWebhook when the body is not a notification or an alert is about another
    deployment or namespace, StaleAlerts when alerts fire but none is fresh.
    """
    if not isinstance(body, dict) or not isinstance(body.get("alerts"), list):
        raise BadWebhook("expected Alertmanager's webhook JSON: an object with an 'alerts' list")
    fresh, stale = [], []
    for index, alert in enumerate(body["alerts"]):
        if not isinstance(alert, dict):
            raise BadWebhook(f"alerts[{index}] must be an object, got {type(alert).__name__}")
        labels = _labels(alert, index, {"deployment_name": deployment, "namespace": namespace})
        if alert.get("status") != "firing":
            continue
        problem = _staleness(alert, index, now)
        (stale if problem else fresh).append(problem or labels)
    if stale and not fresh:
        raise StaleAlerts("; ".join(stale))
    if not fresh:
        return None
    labels = fresh[0]
    return RetrainReason(alert=labels.get("alertname", "unnamed"), labels=labels, requested_at=now)


def _labels(alert: dict, index: int, expected: dict[str, str]) -> dict[str, str]:
    labels = alert.get("labels")
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise BadWebhook(f"alerts[{index}].labels must be an object of strings")
    for name in REQUIRED_LABELS:
        if name not in labels:
            raise BadWebhook(
                f"alerts[{index}] has no {name!r} label; the trigger retrains only on alerts "
                f"labelled deployment_name={expected['deployment_name']!r} and "
                f"namespace={expected['namespace']!r}"
            )
        if labels[name] != expected[name]:
            raise BadWebhook(
                f"alerts[{index}] is about {name} {labels[name]!r}, but this route retrains "
                f"{expected[name]!r}: check the AlertmanagerConfig's matchers"
            )
    return labels


def _staleness(alert: dict, index: int, now: datetime) -> str:
    """Why a firing alert is outside the freshness window, or '' when it is fresh."""
    starts = _timestamp(alert, "startsAt", index)
    if starts > now + CLOCK_SKEW:
        return f"alerts[{index}].startsAt {alert['startsAt']} is in the future (now {now:%FT%TZ})"
    if now - starts > MAX_ALERT_AGE:
        return (
            f"alerts[{index}].startsAt {alert['startsAt']} is more than {MAX_ALERT_AGE} ago: an "
            "alert firing that long needs a person, not another run"
        )
    ends = alert.get("endsAt", ZERO_TIME)
    if ends != ZERO_TIME and _timestamp(alert, "endsAt", index) <= now:
        return f"alerts[{index}] is firing but its endsAt {ends} has passed"
    return ""


def _timestamp(alert: dict, field: str, index: int) -> datetime:
    value = alert.get(field)
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise BadWebhook(
            f"alerts[{index}].{field} must be an RFC 3339 time with a zone, e.g. "
            f"'2026-01-02T03:04:05Z'; got {value!r}"
        )
    return parsed
