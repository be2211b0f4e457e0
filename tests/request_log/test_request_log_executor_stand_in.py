"""The request-log sink (`python -m request_log`, a real process) fed by an executor stand-in
(localrun/executor_stand_in.py: the v1.17.1 executor's logger payloads and headers, no Go
executor here) in front of the real model server, under concurrent clients. What clients were
answered, what the sink kept and what it wrote must agree exactly."""

import json
import random
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import requests

from localrun.executor_stand_in import ExecutorStandIn
from localrun.request_log_process import RequestLogSinkProcess
from localrun.server_process import ModelServerProcess
from request_log.events import sampled
from tests.request_log.support import stand_in

CLIENTS = 6
REQUESTS_PER_CLIENT = 20
SAMPLED_RATE = 0.5
LABEL = "species"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("artifact-store")


@pytest.fixture(scope="module")
def sink(features: list[str], store: Path) -> Iterator[RequestLogSinkProcess]:
    settings = {"featureNames": features, "labelColumn": LABEL}
    with RequestLogSinkProcess(
        {
            "seldon/iris": settings,
            "seldon/iris-sampled": {**settings, "sampleRate": SAMPLED_RATE},
        },
        destination=str(store),
    ) as process:
        yield process


def _clients(executor: ExecutorStandIn, client: int, feedback: bool) -> list[dict[str, Any]]:
    """One client's predictions (and feedback on every other one), as it saw them."""
    rng = random.Random(client)
    session = requests.Session()
    seen = []
    for index in range(REQUESTS_PER_CLIENT):
        rows = [[round(rng.uniform(4, 8), 2), round(rng.uniform(2, 4.5), 2),
                 round(rng.uniform(1, 7), 2), round(rng.uniform(0.1, 2.5), 2)]
                for _ in range(rng.randint(1, 3))]  # fmt: skip
        request = {"data": {"ndarray": rows}}
        answer = session.post(f"{executor.url}/api/v1.0/predictions", json=request, timeout=30)
        assert answer.status_code == 200, answer.text
        puid = answer.headers["Seldon-Puid"]
        response = answer.json()
        record = {"puid": puid, "rows": rows, "answers": response["data"]["ndarray"]}
        if feedback and index % 2 == 0:
            truth = [[rng.choice(["setosa", "versicolor", "virginica"])] for _ in rows]
            sent = session.post(
                f"{executor.url}/api/v1.0/feedback",
                json={
                    "request": request,
                    "response": response,
                    "reward": 1.0,
                    "truth": {"data": {"ndarray": truth}},
                },  # fmt: skip
                headers={"Seldon-Puid": puid},
                timeout=30,
            )
            assert sent.status_code == 200, sent.text
            record["truth"] = [t[0] for t in truth]
        seen.append(record)
    return seen


def _run_clients(executor: ExecutorStandIn, feedback: bool = True) -> list[dict[str, Any]]:
    results: list[list[dict[str, Any]]] = [[] for _ in range(CLIENTS)]

    def run(client: int) -> None:
        results[client] = _clients(executor, client, feedback)

    threads = [threading.Thread(target=run, args=(c,)) for c in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [record for client in results for record in client]


def test_rows_logged_equal_rows_written_and_feedback_joined_executor_stand_in(
    model_server: ModelServerProcess, sink: RequestLogSinkProcess, store: Path
) -> None:
    with stand_in(model_server, f"{sink.url}/", "iris") as executor:
        seen = _run_clients(executor)
        assert executor.drained(timeout=60)
    assert (executor.failed, executor.dropped) == (0, 0)
    labelled = [r for r in seen if "truth" in r]
    assert executor.sent == 2 * len(seen) + len(labelled)

    stats = requests.get(f"{sink.url}/stats", timeout=10).json()
    assert stats["seldon/iris request kept"] == len(seen)
    assert stats["seldon/iris response kept"] == len(seen)
    assert stats["seldon/iris feedback kept"] == len(labelled)

    exported = requests.post(f"{sink.url}/export", timeout=60).json()["seldon/iris"]
    version = store / "seldon" / "iris" / "versions" / exported["version"]
    logged = pq.read_table(version / "logged.parquet").to_pylist()
    expected_rows = sum(len(r["rows"]) for r in seen)
    assert exported["rows"] == len(logged) == expected_rows
    by_key = {(row["request_id"], row["row"]): row for row in logged}
    assert len(by_key) == expected_rows
    for record in seen:
        for index, (features, answer) in enumerate(zip(record["rows"], record["answers"],
                                                        strict=True)):  # fmt: skip
            row = by_key[(record["puid"], index)]
            assert [row[name] for name in list(row)[5:9]] == features
            assert json.loads(row["prediction"]) == answer
            assert row[LABEL] == (record["truth"][index] if "truth" in record else None)
            assert row["model_version"] != ""

    labelled_rows = pq.read_table(version / "labelled.parquet").to_pylist()
    assert exported["labelled"] == len(labelled_rows) == sum(len(r["rows"]) for r in labelled)
    current = pq.read_table(store / "seldon" / "iris" / "labelled.parquet")
    assert current.to_pylist() == labelled_rows
    assert current.column_names[-1] == LABEL


def test_sampling_keeps_a_request_with_its_response_and_feedback_executor_stand_in(
    model_server: ModelServerProcess, sink: RequestLogSinkProcess, store: Path
) -> None:
    with stand_in(model_server, f"{sink.url}/", "iris-sampled") as executor:
        seen = _run_clients(executor)
        assert executor.drained(timeout=60)
    kept = {r["puid"] for r in seen if sampled(r["puid"], SAMPLED_RATE)}
    assert 0 < len(kept) < len(seen)
    stats = requests.get(f"{sink.url}/stats", timeout=10).json()
    assert stats["seldon/iris-sampled request kept"] == len(kept)
    assert stats["seldon/iris-sampled request sampled_out"] == len(seen) - len(kept)
    assert stats["seldon/iris-sampled feedback kept"] == len(
        [r for r in seen if "truth" in r and r["puid"] in kept]
    )
    exported = requests.post(f"{sink.url}/export", timeout=60).json()["seldon/iris-sampled"]
    version = store / "seldon" / "iris-sampled" / "versions" / exported["version"]
    logged = pq.read_table(version / "logged.parquet").to_pylist()
    assert {row["request_id"] for row in logged} == kept
    assert len(logged) == sum(len(r["rows"]) for r in seen if r["puid"] in kept)


def test_a_hung_sink_never_holds_a_prediction_executor_stand_in(
    model_server: ModelServerProcess,
) -> None:
    """A sink that accepts connections and never answers: every prediction is answered while
    all logger workers are stuck sending, as with the executor's asynchronous logger."""
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(1024)
    try:
        url = f"http://127.0.0.1:{hung.getsockname()[1]}/"
        with stand_in(model_server, url, "iris") as executor:
            seen = _run_clients(executor, feedback=False)
            assert len(seen) == CLIENTS * REQUESTS_PER_CLIENT
            assert executor.sent == 0
            assert not executor.drained(timeout=0.5)
    finally:
        hung.close()
