"""`make demo`: a model from `model/`, served as the image serves it, with good and bad requests.

Run from the repository root: `.venv/bin/python -m localrun.demo`. Needs no cluster and no Docker.
"""

import json
import time
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

from localrun.local_model import ensure_model
from localrun.server_process import ModelServerProcess

GOOD_REQUESTS: list[tuple[str, Any]] = [
    ("ndarray, two rows", {"data": {"ndarray": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}}),
    (
        "tensor with names in another order",
        {
            "data": {
                "names": ["petal_width", "petal_length", "sepal_width", "sepal_length"],
                "tensor": {"shape": [1, 4], "values": [1.5, 4.2, 3.0, 5.9]},
            }
        },
    ),
    ("outside the training range", {"data": {"ndarray": [[9.5, 3.0, 5.2, 3.1]]}}),
]
SHOWN_LABELS = ("class", "feature", "code", "method", "predictor_name")
BAD_REQUESTS: list[tuple[str, Any]] = [
    ("row with 3 values", {"data": {"ndarray": [[5.1, 3.5, 1.4]]}}),
    ("text instead of a number", {"data": {"ndarray": [[5.1, "wide", 1.4, 0.2]]}}),
    ("NaN", '{"data": {"ndarray": [[NaN, 3.5, 1.4, 0.2]]}}'),
    ("empty batch", {"data": {"ndarray": []}}),
    ("no data", {"jsonData": {"sepal_length": 5.1}}),
    ("wrong feature names", {"data": {"names": ["a", "b", "c", "d"], "ndarray": [[1, 2, 3, 4]]}}),
    ("not JSON", "sepal_length=5.1"),
]


def send(server: ModelServerProcess, title: str, body: Any) -> None:
    url = f"{server.url}/api/v1.0/predictions"
    if isinstance(body, str):
        response = requests.post(url, data=body, timeout=10)
        shown = body
    else:
        response = requests.post(url, json=body, timeout=10)
        shown = json.dumps(body)
    print(f"\n--- {title}\nPOST {shown}\n<- {response.status_code} {response.text.strip()}")


def show_metrics(server: ModelServerProcess) -> None:
    print("\n=== custom metrics on the metrics port (own labels and predictor shown)")
    text = requests.get(server.metrics_url, timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("mlops_"):
                labels = {k: v for k, v in sample.labels.items() if k in SHOWN_LABELS}
                print(f"{sample.name}{labels} {sample.value:g}")


def main() -> None:
    started = time.monotonic()
    model = ensure_model()
    print(f"model: {model.model_uri} (tracking {model.tracking_uri})")
    server = ModelServerProcess(
        model.model_uri,
        env={"MLFLOW_TRACKING_URI": model.tracking_uri},
    )
    print(f"starting: {' '.join(server.command)}  (env from serving/Dockerfile)")
    with server:
        print(f"ready on {server.url}, metrics on {server.metrics_url}")
        print("\n=== /metadata\n" + requests.get(f"{server.url}/metadata", timeout=10).text)
        print("=== /health/status\n" + requests.get(f"{server.url}/health/status", timeout=10).text)
        print("=== predictions")
        for title, body in GOOD_REQUESTS:
            send(server, title, body)
        print("\n=== bad requests (all 400, the server keeps serving)")
        for title, body in BAD_REQUESTS:
            send(server, title, body)
        show_metrics(server)
    print(f"\nserver stopped; demo took {time.monotonic() - started:.0f}s")


if __name__ == "__main__":
    main()
