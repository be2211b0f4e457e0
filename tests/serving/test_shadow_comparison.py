"""The shadow counts, exactly, the mirrored rows on which the candidate and the champion answer
differently: real model servers (a heavily regularised candidate in the shadow with the
champion's model beside it, and the champion itself), concurrent clients sending every request
to both as Istio's mirror does, and the client's own tally of differing answers checked against
the shadow's counters."""

import json
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from localrun.server_process import ModelServerProcess
from tests.conftest import REPO_ROOT, download_model, isolated_env

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
RANGES = [(4.3, 7.9), (2.0, 4.4), (1.0, 6.9), (0.1, 2.5)]
CLIENTS, REQUESTS_EACH = 6, 25


@pytest.fixture(scope="module")
def candidate_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A weaker iris version (C=0.003, as the A/B demo's) from a private SQLite store."""
    root = tmp_path_factory.mktemp("candidate")
    tracking_uri = f"sqlite:///{root / 'mlflow.db'}"
    completed = subprocess.run(
        [sys.executable, "-m", "model", "train", "--json", "--tracking-uri", tracking_uri,
         "--param", "C=0.003"],
        cwd=REPO_ROOT, env=isolated_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    return str(download_model(tracking_uri, json.loads(completed.stdout), root / "model"))


@pytest.fixture(scope="module")
def servers(trained_model: dict[str, Any], candidate_model: str):
    champion = trained_model["local_model_dir"]
    shadow_env = {"PREDICTOR_ID": "shadow", "SERVER_WORKERS": "2",
                  "COMPARE_MODEL_URI": champion}  # fmt: skip
    with (
        ModelServerProcess(champion, env={"PREDICTOR_ID": "champion"}) as live,
        ModelServerProcess(candidate_model, env=shadow_env) as shadow,
    ):
        yield live, shadow


def _classes(answer: dict) -> list[str]:
    names, rows = answer["data"]["names"], answer["data"]["ndarray"]
    return [names[max(range(len(row)), key=row.__getitem__)] for row in rows]


def _client(seed: int, live: ModelServerProcess, shadow: ModelServerProcess) -> tuple[int, int]:
    """Send REQUESTS_EACH batches to both servers; (rows, rows answered differently)."""
    rng = random.Random(seed)
    rows = differing = 0
    with requests.Session() as session:
        for _ in range(REQUESTS_EACH):
            batch = [[round(rng.uniform(low, high), 2) for low, high in RANGES]
                     for _ in range(rng.randint(1, 8))]  # fmt: skip
            body = {"data": {"names": FEATURES, "ndarray": batch}}
            answers = []
            for server in (live, shadow):
                response = session.post(f"{server.url}/api/v1.0/predictions", json=body, timeout=30)
                assert response.status_code == 200, response.text
                answers.append(_classes(response.json()))
            rows += len(batch)
            differing += sum(a != b for a, b in zip(*answers, strict=True))
    return rows, differing


def _counter(metrics_url: str, name: str) -> dict[str, float]:
    text = requests.get(metrics_url, timeout=10).text
    return {
        sample.labels["predictor_name"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == f"{name}_total"
    }


def test_the_shadow_counts_exactly_the_rows_its_candidate_answers_differently(servers) -> None:
    live, shadow = servers
    with ThreadPoolExecutor(CLIENTS) as pool:
        tallies = list(pool.map(lambda seed: _client(seed, live, shadow), range(CLIENTS)))
    rows = sum(t[0] for t in tallies)
    differing = sum(t[1] for t in tallies)
    assert 0 < differing < rows, "the fixture must hold both agreement and disagreement"
    compared = _counter(shadow.metrics_url, "mlops_model_shadow_compared_rows")
    disagreeing = _counter(shadow.metrics_url, "mlops_model_shadow_disagreeing_rows")
    assert compared == {"shadow": rows}
    assert disagreeing == {"shadow": differing}


def test_only_a_shadow_given_the_champion_exports_the_comparison(servers) -> None:
    live, _ = servers
    assert _counter(live.metrics_url, "mlops_model_shadow_compared_rows") == {}
