"""The model's custom Prometheus metrics, aggregated per worker and emitted as deltas.

Seldon's wrapper stores custom metrics in a multiprocessing Manager shared by all workers; each
update is several IPC round trips. Requests therefore only record into this in-process
accumulator, and the aggregated deltas go to Seldon at most once per flush interval.
"""

import threading
import time
from collections.abc import Sequence

import numpy as np

from serving.drift import DriftWindow
from serving.model_source import FeatureReference

PREDICTIONS = "mlops_model_predictions_total"
PREDICTION_MEAN = "mlops_model_prediction_mean"
OUT_OF_RANGE = "mlops_model_input_out_of_range_total"
DRIFT_PSI = "mlops_model_feature_drift_psi"

SeldonMetric = dict[str, object]


class TrafficMetrics:
    """Counts predictions and out-of-range inputs, and tracks drift, per worker.

    Classifiers count predictions per class; a regressor (no class names) counts rows and
    reports the mean predicted value over the drift window.
    """

    def __init__(
        self,
        class_names: Sequence[str] | None,
        feature_names: Sequence[str],
        references: Sequence[FeatureReference],
        *,
        window_rows: int,
        min_drift_rows: int,
        flush_seconds: float,
    ) -> None:
        self._class_names = None if class_names is None else list(class_names)
        self._window_rows = window_rows
        self._recent_values = np.empty(0, dtype=np.float64)
        self._feature_names = list(feature_names)
        self._minimum = np.array([ref.minimum for ref in references])
        self._maximum = np.array([ref.maximum for ref in references])
        self._drift = DriftWindow(references, window_rows)
        self._min_drift_rows = min_drift_rows
        self._flush_seconds = flush_seconds
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._last_flush = float("-inf")
        self._lock = threading.Lock()

    def record(self, features: np.ndarray, winners: np.ndarray) -> list[SeldonMetric]:
        """Note one batch (`winners`: class indices, or a regressor's values).

        Return the metric deltas due for Seldon now (often none).
        """
        now = time.monotonic()
        with self._lock:
            self._pending.append((features, winners))
            if now - self._last_flush < self._flush_seconds:
                return []
            self._last_flush = now
            pending, self._pending = self._pending, []
            return self._deltas(pending)

    def _deltas(self, pending: list[tuple[np.ndarray, np.ndarray]]) -> list[SeldonMetric]:
        features = np.concatenate([rows for rows, _ in pending])
        winners = np.concatenate([outputs for _, outputs in pending])
        outside = np.sum((features < self._minimum) | (features > self._maximum), axis=0)
        metrics = self._prediction_deltas(winners)
        metrics += [
            _metric("COUNTER", OUT_OF_RANGE, int(count), "feature", name)
            for name, count in zip(self._feature_names, outside, strict=True)
        ]
        self._drift.add(features)
        if self._drift.size >= self._min_drift_rows:
            metrics += [
                _metric("GAUGE", DRIFT_PSI, score, "feature", name)
                for name, score in zip(self._feature_names, self._drift.psi(), strict=True)
            ]
        return metrics

    def _prediction_deltas(self, winners: np.ndarray) -> list[SeldonMetric]:
        if self._class_names is not None:
            per_class = np.bincount(winners, minlength=len(self._class_names))
            return [
                _metric("COUNTER", PREDICTIONS, int(count), "class", name)
                for name, count in zip(self._class_names, per_class, strict=True)
            ]
        recent = np.concatenate([self._recent_values, winners])[-self._window_rows :]
        self._recent_values = recent
        metrics = [{"type": "COUNTER", "key": PREDICTIONS, "value": len(winners)}]
        if len(recent) >= self._min_drift_rows:
            metrics.append({"type": "GAUGE", "key": PREDICTION_MEAN, "value": float(recent.mean())})
        return metrics


def _metric(kind: str, key: str, value: float, label: str, label_value: str) -> SeldonMetric:
    return {"type": kind, "key": key, "value": value, "tags": {label: label_value}}
