"""Every counter the analysis reads, recorded exactly with prometheus_client's multiprocess mode.

Each worker increments its own memory-mapped file in PROMETHEUS_MULTIPROC_DIR before it answers
(prometheus_client/values.py, `MultiProcessValue`), and the metrics port sums every file at
scrape time (prometheus_client/multiprocess.py, `MultiProcessCollector`). Nothing is buffered,
so a count is visible as soon as its answer is sent, idle or not. A counter's file outlives its
process: a worker that is killed or replaced loses nothing it acknowledged. Gauges of the drift
window are `livesum`: the rows of a dead worker leave the window (`mark_process_dead`).

Series carry the labels Seldon's wrapper gives custom metrics (seldon_core/metrics.py,
`DEFAULT_LABELS`) plus `method`, without its per-process `worker_id`: workers are summed here.
"""

from collections.abc import Iterator, Sequence

import numpy as np
from prometheus_client import Counter, Gauge
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from seldon_core.env_utils import (
    get_deployment_name,
    get_image_name,
    get_model_name,
    get_predictor_name,
    get_predictor_version,
)

from serving.drift import BinWindow, psi
from serving.model_source import FeatureReference

PREDICTIONS = "mlops_model_predictions"
OUT_OF_RANGE = "mlops_model_input_out_of_range"
ERRORS = "mlops_model_request_errors"
FEEDBACK = "seldon_api_model_feedback"
FEEDBACK_REWARD = "seldon_api_model_feedback_reward"
WINDOW_ROWS = "mlops_model_drift_window_rows"
DRIFT_PSI = "mlops_model_feature_drift_psi"
PREDICTION_MEAN = "mlops_model_prediction_mean"
SHADOW_COMPARED = "mlops_model_shadow_compared_rows"
SHADOW_DISAGREEING = "mlops_model_shadow_disagreeing_rows"
"""Rows a shadow also ran through the champion's model, and those the two answered differently
(serving/shadow_comparison.py); labelled with the champion's `reference_version`."""
# Internal: summed over live workers, turned into PSI and the mean at scrape time.
WINDOW_BINS = "mlops_model_drift_window_bin_rows"
WINDOW_VALUE_SUM = "mlops_model_drift_window_value_sum"
INTERNAL = (WINDOW_BINS, WINDOW_VALUE_SUM)


def seldon_labels() -> dict[str, str]:
    """Seldon's default labels, from the operator-injected environment."""
    image, _, tag = get_image_name().rpartition(":")
    deployment = get_deployment_name()
    return {
        "deployment_name": deployment,
        "model_name": get_model_name(),
        "model_image": image,
        "model_version": tag,
        "predictor_name": get_predictor_name(),
        "predictor_version": get_predictor_version(),
        "seldon_deployment_name": deployment,
        "image_name": image,
        "image_version": tag,
    }


class Accounting:
    """What one worker records; call only from its event loop."""

    def __init__(
        self,
        class_names: Sequence[str] | None,
        feature_names: Sequence[str],
        references: Sequence[FeatureReference],
        window_rows: int,
        reference_version: str | None = None,
    ) -> None:
        labels = seldon_labels()
        names = [*labels, "method"]
        predict = [*labels.values(), "predict"]
        self._minimum = np.array([ref.minimum for ref in references])
        self._maximum = np.array([ref.maximum for ref in references])
        self._window = BinWindow(references, window_rows)
        self._regression = class_names is None
        if self._regression:
            self._predictions = [Counter(PREDICTIONS, "", names, registry=None).labels(*predict)]
            self._values = np.zeros(window_rows)
            self._value_sum = Gauge(
                WINDOW_VALUE_SUM, "", names, registry=None, multiprocess_mode="livesum"
            ).labels(*predict)
        else:
            family = Counter(PREDICTIONS, "", [*names, "class"], registry=None)
            self._predictions = [family.labels(*predict, str(name)) for name in class_names]
        out_of_range = Counter(OUT_OF_RANGE, "", [*names, "feature"], registry=None)
        self._out_of_range = [out_of_range.labels(*predict, name) for name in feature_names]
        bins = Gauge(
            WINDOW_BINS, "", [*names, "feature", "bin"], registry=None, multiprocess_mode="livesum"
        )
        self._bins = [
            [bins.labels(*predict, name, str(i)) for i in range(count)]
            for name, count in zip(feature_names, self._window.bins, strict=True)
        ]
        self._window_rows = Gauge(
            WINDOW_ROWS, "", names, registry=None, multiprocess_mode="livesum"
        ).labels(*predict)
        feedback = [*labels.values(), "feedback"]
        self._feedback = Counter(FEEDBACK, "", names, registry=None).labels(*feedback)
        self._reward = Counter(FEEDBACK_REWARD, "", names, registry=None).labels(*feedback)
        self._errors = Counter(ERRORS, "", [*names, "code"], registry=None)
        self._label_values = list(labels.values())
        self._compared = self._disagreeing = None
        if reference_version is not None:
            compare = [*names, "reference_version"]
            self._compared = Counter(SHADOW_COMPARED, "", compare, registry=None).labels(
                *predict, reference_version
            )
            self._disagreeing = Counter(SHADOW_DISAGREEING, "", compare, registry=None).labels(
                *predict, reference_version
            )
            self._compared.inc(0)
            self._disagreeing.inc(0)
        for child in (*self._predictions, *self._out_of_range, self._feedback, self._reward):
            child.inc(0)  # every series exists from the start

    def prediction(self, features: np.ndarray, winners: np.ndarray) -> None:
        """Count one answered batch (`winners`: class indices, or a regressor's values)."""
        if self._regression:
            self._predictions[0].inc(len(winners))
        else:
            per_class = np.bincount(winners)
            for index in np.flatnonzero(per_class):
                self._predictions[index].inc(int(per_class[index]))
        outside = np.count_nonzero((features < self._minimum) | (features > self._maximum), axis=0)
        for index in np.flatnonzero(outside):
            self._out_of_range[index].inc(int(outside[index]))
        before = self._window.size
        added, dropped, slots = self._window.add(features)
        for column, children in enumerate(self._bins):
            change = np.bincount(added[:, column], minlength=len(children))
            change -= np.bincount(dropped[:, column], minlength=len(children))
            for index in np.flatnonzero(change):
                children[index].inc(int(change[index]))
        if self._window.size != before:
            self._window_rows.inc(self._window.size - before)
        if self._regression:
            kept = winners[-len(slots) :]
            gone = self._values[slots[len(slots) - len(dropped) :]]
            self._values[slots] = kept
            self._value_sum.inc(float(np.sum(kept)) - float(np.sum(gone)))

    def comparison(self, rows: int, disagreeing: int) -> None:
        """Count one mirrored batch the shadow also ran through the champion's model."""
        self._compared.inc(rows)
        self._disagreeing.inc(disagreeing)

    def feedback(self, reward: float) -> None:
        """Count one accepted feedback and add its reward."""
        self._feedback.inc()
        self._reward.inc(reward)

    def error(self, method: str, code: int) -> None:
        """Count one request answered with an error status."""
        self._errors.labels(*self._label_values, method, str(code)).inc()


class ScrapeCollector:
    """The metrics port's collector: every worker's files summed, the drift window scored."""

    def __init__(
        self,
        path: str,
        feature_names: Sequence[str],
        references: Sequence[FeatureReference],
        min_drift_rows: int,
    ) -> None:
        self._files = MultiProcessCollector(None, path)
        self._expected = dict(zip(feature_names, (ref.counts for ref in references), strict=True))
        self._min_drift_rows = min_drift_rows

    def collect(self) -> Iterator[Metric]:
        families = {family.name: family for family in self._files.collect()}
        rows = {
            _key(sample.labels): sample.value
            for sample in getattr(families.get(WINDOW_ROWS), "samples", [])
        }
        yield from (family for name, family in families.items() if name not in INTERNAL)
        if WINDOW_BINS in families:
            yield self._psi(families[WINDOW_BINS], rows)
        if WINDOW_VALUE_SUM in families:
            yield self._mean(families[WINDOW_VALUE_SUM], rows)

    def _psi(self, bins: Metric, rows: dict[tuple, float]) -> GaugeMetricFamily:
        counts: dict[tuple, dict[str, np.ndarray]] = {}
        for sample in bins.samples:
            labels = dict(sample.labels)
            feature, index = labels.pop("feature"), int(labels.pop("bin"))
            per_feature = counts.setdefault(_key(labels), {})
            if feature not in per_feature:
                per_feature[feature] = np.zeros(len(self._expected[feature]))
            per_feature[feature][index] = sample.value
        family = GaugeMetricFamily(DRIFT_PSI, "", labels=[*_names(bins), "feature"])
        for key, per_feature in counts.items():
            if rows.get(key, 0) < self._min_drift_rows:
                continue
            for feature, expected in self._expected.items():
                actual = per_feature.get(feature, np.zeros(len(expected)))
                family.add_metric([*(value for _, value in key), feature], psi(actual, expected))
        return family

    def _mean(self, sums: Metric, rows: dict[tuple, float]) -> GaugeMetricFamily:
        family = GaugeMetricFamily(PREDICTION_MEAN, "", labels=_names(sums))
        for sample in sums.samples:
            key = _key(sample.labels)
            if rows.get(key, 0) >= self._min_drift_rows:
                family.add_metric([value for _, value in key], sample.value / rows[key])
        return family


def _key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in labels.items() if k not in ("feature", "bin")))


def _names(family: Metric) -> list[str]:
    first = dict(family.samples[0].labels) if family.samples else {}
    return sorted(name for name in first if name not in ("feature", "bin"))
