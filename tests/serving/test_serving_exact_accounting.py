"""Every counter on the metrics port equals what the clients were answered, exactly.

Many clients at once (3 processes x 4 threads, REST and gRPC, predictions, feedback and bad
requests) against the server as the image starts it, with two workers so that counts cross
processes. Each client keeps its own tally of what it was answered; right after the last answer,
with no request after it, one scrape must equal the sum of the tallies. A second test kills a
worker under load: nothing acknowledged is lost, and at most the requests cut off in flight
(which the clients saw fail) may be counted without an answer.
"""

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any

import grpc
import numpy as np
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc
from seldon_core.utils import json_to_seldon_message

from localrun.memory import group_members
from localrun.server_process import ModelServerProcess
from tests.serving.serving_helpers import FEATURES

PROCESSES = 3
THREADS = 4
REQUESTS_PER_CLIENT = 60
KILL_AT_SHARE = 0.1
"""The worker is killed once the server has counted this share of the load's rows: mid-load on
a quiet machine and a busy one alike."""
REWARDS = (0.0, 0.5, 1.0)


@pytest.fixture(scope="module")
def two_workers(trained_model: dict[str, Any]) -> Iterator[ModelServerProcess]:
    """The image's settings with two workers and a drift window longer than the traffic."""
    env = {"SERVER_WORKERS": "2", "DRIFT_WINDOW_ROWS": "100000"}
    with ModelServerProcess(trained_model["local_model_dir"], env=env) as server:
        yield server


@pytest.fixture(scope="module")
def ranges(trained_model: dict[str, Any]) -> tuple[list[float], list[float]]:
    from mlflow.models import Model

    features = Model.load(trained_model["local_model_dir"]).metadata["drift_reference"]["features"]
    return [features[f]["min"] for f in FEATURES], [features[f]["max"] for f in FEATURES]


def client(
    seed: int, http: str, grpc_target: str, low: list[float], high: list[float], requests_each: int
) -> Counter:
    """One client: a mix of calls; returns its tally of what the server acknowledged."""
    rng = np.random.default_rng(seed)
    tally: Counter = Counter()
    session = requests.Session()
    channel = grpc.insecure_channel(grpc_target)
    stub = prediction_pb2_grpc.ModelStub(channel)
    for _ in range(requests_each):
        rows = np.round(
            rng.uniform(np.array(low) - 0.5, np.array(high) + 0.5, (rng.integers(1, 4), 4)), 2
        )
        choice = rng.integers(0, 10)
        try:
            if choice < 4:
                tally += rest_predict(session, http, rows, low, high)
            elif choice < 6:
                tally += grpc_predict(stub, rows, low, high)
            elif choice < 8:
                reward = float(rng.choice(REWARDS))
                if choice == 6:
                    answer = session.post(
                        f"{http}/api/v1.0/feedback", json={"reward": reward}, timeout=10
                    )
                    assert answer.status_code == 200, answer.text
                else:
                    stub.SendFeedback(prediction_pb2.Feedback(reward=reward), timeout=10)
                tally["feedback"] += 1
                tally["reward"] += reward
            elif choice == 8:
                answer = session.post(
                    f"{http}/api/v1.0/predictions", json={"data": {"ndarray": [[1.0]]}}, timeout=10
                )
                assert answer.status_code == 400, answer.text
                tally["error predict 400"] += 1
            else:
                answer = session.post(f"{http}/api/v1.0/feedback", json={"reward": 7}, timeout=10)
                assert answer.status_code == 400, answer.text
                tally["error feedback 400"] += 1
        except (requests.ConnectionError, grpc.RpcError) as error:
            if (
                isinstance(error, grpc.RpcError)
                and error.code() == grpc.StatusCode.INVALID_ARGUMENT
            ):
                raise
            tally["failed"] += 1
            tally["failed rows"] += len(rows)
    channel.close()
    return tally


def rest_predict(
    session: requests.Session, http: str, rows: np.ndarray, low: list, high: list
) -> Counter:
    answer = session.post(
        f"{http}/api/v1.0/predictions", json={"data": {"ndarray": rows.tolist()}}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    return answered(data["names"], np.array(data["ndarray"]), rows, low, high)


def grpc_predict(stub: Any, rows: np.ndarray, low: list, high: list) -> Counter:
    answer = stub.Predict(
        json_to_seldon_message(
            {"data": {"tensor": {"shape": list(rows.shape), "values": rows.ravel().tolist()}}}
        ),
        timeout=10,
    )
    values = np.array(answer.data.tensor.values).reshape(list(answer.data.tensor.shape))
    return answered(list(answer.data.names), values, rows, low, high)


def answered(
    names: list[str], probabilities: np.ndarray, rows: np.ndarray, low: list, high: list
) -> Counter:
    tally: Counter = Counter(f"class {names[i]}" for i in probabilities.argmax(axis=1))
    outside = (rows < np.array(low)) | (rows > np.array(high))
    for j, feature in enumerate(FEATURES):
        tally[f"out {feature}"] += int(outside[:, j].sum())
    tally["rows"] += len(rows)
    return tally


def run_clients(
    server: ModelServerProcess, ranges: tuple, requests_each: int = REQUESTS_PER_CLIENT
) -> Counter:
    """PROCESSES x THREADS clients at once; the sum of their tallies."""
    http, target = server.url, f"127.0.0.1:{server.grpc_port}"
    with ProcessPoolExecutor(PROCESSES) as processes:
        futures = [
            processes.submit(threads_of_clients, p, http, target, *ranges, requests_each)
            for p in range(PROCESSES)
        ]
        return sum((future.result() for future in futures), Counter())


def threads_of_clients(
    process: int, http: str, target: str, low: list, high: list, requests_each: int
) -> Counter:
    with ThreadPoolExecutor(THREADS) as threads:
        seeds = [process * THREADS + t for t in range(THREADS)]
        futures = [threads.submit(client, s, http, target, low, high, requests_each) for s in seeds]
        return sum((future.result() for future in futures), Counter())


def _rows(found: Counter) -> float:
    return sum(v for k, v in found.items() if k.startswith("class "))


def exposed(server: ModelServerProcess) -> Counter:
    """The metrics port, in the tally's terms."""
    found: Counter = Counter()
    text = requests.get(server.metrics_url, timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "mlops_model_predictions_total":
                found[f"class {labels['class']}"] += sample.value
            elif sample.name == "mlops_model_input_out_of_range_total":
                found[f"out {labels['feature']}"] += sample.value
            elif sample.name == "seldon_api_model_feedback_total":
                found["feedback"] += sample.value
            elif sample.name == "seldon_api_model_feedback_reward_total":
                found["reward"] += sample.value
            elif sample.name == "mlops_model_request_errors_total":
                found[f"error {labels['method']} {labels['code']}"] += sample.value
            elif sample.name == "mlops_model_drift_window_rows":
                found["rows"] += sample.value
    return +found


def test_counters_equal_the_clients_tally_with_no_request_after_the_last(
    two_workers: ModelServerProcess, ranges: tuple
) -> None:
    before = exposed(two_workers)
    tally = run_clients(two_workers, ranges)
    after = exposed(two_workers)  # at once: nothing waits for a later request or a flush

    assert tally["failed"] == 0
    assert tally["feedback"] > 100 and tally["rows"] > 500
    served = after.copy()
    served.subtract(before)
    assert +served == +tally


def test_a_worker_killed_under_load_loses_nothing_it_acknowledged(
    two_workers: ModelServerProcess, ranges: tuple
) -> None:
    workers = [pid for pid in group_members(two_workers.pgid) if pid != two_workers.pgid]
    assert len(workers) == 2
    before = exposed(two_workers)
    requests_each = 10 * REQUESTS_PER_CLIENT
    kill_at = KILL_AT_SHARE * PROCESSES * THREADS * requests_each
    killed_at: list[float] = []

    def kill_mid_load() -> None:
        while _rows(exposed(two_workers)) - _rows(before) < kill_at:
            time.sleep(0.01)
        os.kill(workers[0], signal.SIGKILL)
        killed_at.append(time.monotonic())

    killer = threading.Thread(target=kill_mid_load, daemon=True)
    killer.start()
    tally = run_clients(two_workers, ranges, requests_each=requests_each)
    ended = time.monotonic()
    killer.join(timeout=5)
    assert killed_at and killed_at[0] < ended, "the load ended before the kill"
    try:
        after = exposed(two_workers)
    except requests.ConnectionError as error:
        log = two_workers.log_path.read_text()[-3000:]
        raise AssertionError(f"the server stopped after the kill: {error}\n{log}") from error

    counted = after.copy()
    counted.subtract(before)
    classes, acknowledged = _rows(counted), _rows(tally)
    assert acknowledged <= classes <= acknowledged + tally["failed rows"]
    assert tally["feedback"] <= counted["feedback"] <= tally["feedback"] + tally["failed"]
    assert tally["reward"] <= counted["reward"] <= tally["reward"] + tally["failed"]
    replaced = [pid for pid in group_members(two_workers.pgid) if pid != two_workers.pgid]
    assert len(replaced) == 2 and workers[0] not in replaced
    assert f"worker {workers[0]} died (signal SIGKILL)" in two_workers.log_path.read_text()
