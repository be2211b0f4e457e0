"""A short, bounded burst of concurrent predictions: every one answers 200."""

import time
from concurrent.futures import ThreadPoolExecutor

import requests

from localrun.server_process import ModelServerProcess

CLIENTS = 4
REQUESTS_PER_CLIENT = 150
TIME_BUDGET_S = 30.0
BODY = {"data": {"ndarray": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}}


def client(url: str) -> list[int]:
    deadline = time.monotonic() + TIME_BUDGET_S
    codes = []
    with requests.Session() as session:
        for _ in range(REQUESTS_PER_CLIENT):
            if time.monotonic() > deadline:
                break
            codes.append(session.post(url, json=BODY, timeout=10).status_code)
    return codes


def test_concurrent_predictions_have_no_errors(registry_server: ModelServerProcess) -> None:
    url = f"{registry_server.url}/api/v1.0/predictions"
    with ThreadPoolExecutor(CLIENTS) as pool:
        codes = [code for result in pool.map(client, [url] * CLIENTS) for code in result]

    assert len(codes) > CLIENTS * 10
    assert set(codes) == {200}
