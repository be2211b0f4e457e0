"""Exact evidence: after concurrent traffic and an idle wait, every counter equals the tally.

Real parts: the model server started as the image starts it (its default workers, threads and
metrics flush interval), 12 concurrent clients in 3 spawned processes x 4 threads sending REST and
gRPC predictions, malformed requests and feedback (`localrun.traffic_tally`), and a real
Prometheus scraping the metrics port. After the last request nothing more is sent: the counters
must settle within the flush interval on their own (the idle case). The comparison is exact, at
`/prometheus` and through Prometheus's own view of the same series.

The counters compared (summed over every series of the predictor, whatever per-worker or
per-process labels the server adds):
- predictions per class and the predictor they are credited to;
- feedbacks (every answered feedback, whatever its reward) and the reward sum;
- malformed requests answered 400 (bad input, the server's error count);
- values outside the training range per feature;
- rows in the drift window (`DRIFT_WINDOW_ROWS` is set above the traffic, so every row stays).
"""

import time
from collections import Counter
from typing import Any

import pytest
import requests
from mlflow.models import Model
from prometheus_client.parser import text_string_to_metric_families

from analysis.promql import DRIFT_WINDOW_ROWS as DRIFT_ROWS
from analysis.promql import FEEDBACK_REWARD_TOTAL as REWARD
from analysis.promql import FEEDBACK_TOTAL as FEEDBACK
from analysis.promql import INPUT_OUT_OF_RANGE_TOTAL as OUT_OF_RANGE
from analysis.promql import PREDICTIONS_TOTAL as PREDICTIONS
from analysis.promql import REQUEST_ERRORS_TOTAL as ERRORS
from localrun.image_spec import read_image_spec
from localrun.server_process import OPERATOR_ENV, ModelServerProcess
from localrun.traffic_tally import Tally, Target, run_processes
from tests.monitoring.prometheus_process import query, running_prometheus

PROCESSES, THREADS, REQUESTS_PER_CLIENT, MALFORMED_EVERY = 3, 4, 40, 8
PREDICTOR = OPERATOR_ENV["PREDICTOR_ID"]
SCRAPE_INTERVAL_S = 1.0


def flush_seconds() -> float:
    """The image's metrics flush interval (the server's default, 1 s, when the image sets none)."""
    return float(read_image_spec().env.get("METRICS_FLUSH_SECONDS", "1"))


@pytest.fixture(scope="module")
def served(trained_model: dict[str, Any], prometheus_binary: str, tmp_path_factory):
    """(tally, /prometheus samples, Prometheus URL) after the traffic and the idle wait."""
    model_dir = trained_model["local_model_dir"]
    model = Model.load(model_dir)
    features = model.metadata["drift_reference"]["features"]
    order = model.get_input_schema().input_names()
    server = ModelServerProcess(model_dir, env={"DRIFT_WINDOW_ROWS": "100000"})
    with server:
        target = Target(
            http_url=server.url,
            grpc_address=f"127.0.0.1:{server.grpc_port}",
            bounds={name: (features[name]["min"], features[name]["max"]) for name in order},
        )
        scrape = [
            {
                "job_name": "model-server",
                "metrics_path": "/prometheus",
                "static_configs": [{"targets": [server.metrics_url.split("/")[2]]}],
            }
        ]
        workdir = tmp_path_factory.mktemp("prometheus")
        interval = f"{SCRAPE_INTERVAL_S:g}s"
        with running_prometheus(prometheus_binary, workdir, scrape, interval) as url:
            tally = run_processes(target, PROCESSES, THREADS, REQUESTS_PER_CLIENT, MALFORMED_EVERY)
            # The idle case: no request after the last one, only time past the flush interval.
            time.sleep(3 * flush_seconds() + 1)
            exposed = requests.get(server.metrics_url, timeout=10).text
            time.sleep(3 * SCRAPE_INTERVAL_S)
            yield tally, exposed, url


def expected(tally: Tally) -> dict[str, float]:
    """The tally as 'metric{label}' -> value, the shape both views are read into."""
    rows = {f"{PREDICTIONS}{{class={name}}}": n for name, n in tally.predictions.items()}
    rows |= {f"{OUT_OF_RANGE}{{feature={name}}}": n for name, n in tally.out_of_range.items()}
    return {
        **rows,
        FEEDBACK: tally.feedback,
        REWARD: tally.reward,
        ERRORS: tally.rejected,
        DRIFT_ROWS: tally.rows,
    }


def _key(name: str, labels: dict[str, str]) -> str | None:
    own = {PREDICTIONS: "class", OUT_OF_RANGE: "feature"}.get(name)
    if name not in (PREDICTIONS, OUT_OF_RANGE, FEEDBACK, REWARD, ERRORS, DRIFT_ROWS):
        return None
    return f"{name}{{{own}={labels[own]}}}" if own else name


def from_metrics_port(text: str) -> tuple[dict[str, float], set[str]]:
    """Values summed per key over every series of the port, and the predictors they name."""
    values: Counter = Counter()
    predictors = set()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = _key(sample.name, sample.labels)
            if key is not None:
                values[key] += sample.value
                predictors.add(sample.labels.get("predictor_name"))
    return dict(values), predictors


def from_prometheus(url: str) -> dict[str, float]:
    """The same sums as Prometheus scraped them, at the latest sample."""
    values = {}
    for name in (PREDICTIONS, OUT_OF_RANGE, FEEDBACK, REWARD, ERRORS, DRIFT_ROWS):
        own = {PREDICTIONS: "class", OUT_OF_RANGE: "feature"}.get(name)
        by = f" by ({own})" if own else ""
        for sample in query(url, f'sum{by} ({name}{{predictor_name="{PREDICTOR}"}})'):
            values[_key(name, sample["metric"]) if own else name] = float(sample["value"][1])
    return values


def mismatches(want: dict[str, float], got: dict[str, float]) -> list[str]:
    """'key: tally X, counted Y' for every key that differs (a zero tally may be absent)."""
    return [
        f"{key}: tally {want.get(key, 0):g}, counted {got.get(key, 'absent')}"
        for key in sorted(set(want) | set(got))
        if got.get(key, 0.0) != want.get(key, 0)
    ]


def test_the_clients_sent_what_the_comparison_needs(served) -> None:
    tally, _, _ = served
    clients = PROCESSES * THREADS
    assert tally.rows == clients * REQUESTS_PER_CLIENT
    assert tally.feedback == tally.rows and 0 < tally.reward < tally.feedback
    assert tally.rejected == clients * (REQUESTS_PER_CLIENT // MALFORMED_EVERY)
    assert len(tally.predictions) == 3 and sum(tally.out_of_range.values()) > 0


def test_the_metrics_port_equals_the_tally_after_an_idle_flush_interval(served) -> None:
    tally, exposed, _ = served
    values, predictors = from_metrics_port(exposed)
    assert predictors == {PREDICTOR}
    problems = mismatches(expected(tally), values)
    assert not problems, "/prometheus disagrees with the clients:\n" + "\n".join(problems)


def test_prometheus_scrapes_exactly_the_tally(served) -> None:
    tally, _, url = served
    problems = mismatches(expected(tally), from_prometheus(url))
    assert not problems, "Prometheus disagrees with the clients:\n" + "\n".join(problems)
