"""`make demo [MODEL=<spec>]`: a model of `model/specs/`, trained by `model/` and served as the
image serves it (from the registry, digest checked), with good and bad requests and its metrics.

Run from the repository root: `.venv/bin/python -m localrun.demo [--model wine]`. Needs no
cluster and no Docker. The requests are built from the spec's features and the rows `model/`
stored with the model as its input example, so every spec gets the same walk-through.
"""

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

from localrun.local_model import LocalModel, TrainingFailed, ensure_model
from localrun.server_process import ModelServerProcess
from model.schema import FeatureSpec
from model.specs import load_spec, spec_names

SHOWN_LABELS = ("class", "feature", "code", "method", "predictor_name")
INPUT_EXAMPLE = "input_example.json"
"""Rows of the training table that `model/packaging.py` stores with every model."""


def example_rows(model: LocalModel, names: list[str]) -> list[list[float]]:
    """The model's input-example rows, columns in the order of `names`."""
    example = json.loads(Path(model.local_dir, INPUT_EXAMPLE).read_text())
    order = [example["columns"].index(name) for name in names]
    return [[row[i] for i in order] for row in example["data"]]


def good_requests(features: list[FeatureSpec], rows: list[list[float]]) -> list[tuple[str, Any]]:
    """Two rows as an ndarray, one as a tensor with the names reversed, one above its range."""
    names = [feature.name for feature in features]
    first = features[0]
    above = first.max + (first.max - first.min) / 4
    return [
        ("ndarray, two rows", {"data": {"ndarray": rows[:2]}}),
        (
            "tensor with names in reverse order",
            {
                "data": {
                    "names": names[::-1],
                    "tensor": {"shape": [1, len(names)], "values": rows[-1][::-1]},
                }
            },
        ),
        (
            f"{first.name} = {above:g}, above its training range [{first.min:g}, {first.max:g}]",
            {"data": {"ndarray": [[above, *rows[0][1:]]]}},
        ),
    ]


def bad_requests(names: list[str], row: list[float]) -> list[tuple[str, Any]]:
    """Malformed requests the server must answer 400, one per kind of mistake."""
    rest = [json.dumps(value) for value in row[1:]]
    return [
        (f"row with {len(row) - 1} values", {"data": {"ndarray": [row[:-1]]}}),
        ("text instead of a number", {"data": {"ndarray": [["wide", *row[1:]]]}}),
        ("NaN", f'{{"data": {{"ndarray": [[{", ".join(["NaN", *rest])}]]}}}}'),
        ("empty batch", {"data": {"ndarray": []}}),
        ("no data", {"jsonData": {names[0]: row[0]}}),
        (
            "wrong feature names",
            {"data": {"names": [f"x{i}" for i in range(len(row))], "ndarray": [row]}},
        ),
        ("not JSON", f"{names[0]}={row[0]}"),
    ]


def served(model: LocalModel) -> ModelServerProcess:
    """The server as the cluster runs it: the registry URI, the digest to check, the operator's
    deployment name."""
    return ModelServerProcess(
        model.model_uri,
        env={
            "MLFLOW_TRACKING_URI": model.tracking_uri,
            "MODEL_DIGEST": model.model_digest,
            "SELDON_DEPLOYMENT_ID": model.model_name,
        },
    )


def post(server: ModelServerProcess, body: Any) -> requests.Response:
    url = f"{server.url}/api/v1.0/predictions"
    if isinstance(body, str):
        return requests.post(url, data=body, timeout=10)
    return requests.post(url, json=body, timeout=10)


def send(server: ModelServerProcess, title: str, body: Any) -> None:
    response = post(server, body)
    shown = body if isinstance(body, str) else json.dumps(body)
    print(f"\n--- {title}\nPOST {shown}\n<- {response.status_code} {response.text.strip()}")


def show_metrics(server: ModelServerProcess) -> None:
    print("\n=== custom metrics on the metrics port (own labels and predictor shown)")
    text = requests.get(server.metrics_url, timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("mlops_"):
                labels = {k: v for k, v in sample.labels.items() if k in SHOWN_LABELS}
                print(f"{sample.name}{labels} {sample.value:g}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localrun.demo", description=__doc__)
    parser.add_argument(
        "--model",
        default="iris",
        choices=spec_names(),
        help="the spec in model/specs/ to train and serve (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    features = load_spec(args.model).dataset_schema.features
    try:
        model = ensure_model(args.model)
    except TrainingFailed as failure:
        print(f"error: {failure}; the demo needs a trained model", file=sys.stderr)
        return 1
    names = [feature.name for feature in features]
    rows = example_rows(model, names)
    print(f"model: {model.model_uri} {model.model_digest} (tracking {model.tracking_uri})")
    server = served(model)
    print(f"starting: {' '.join(server.command)}  (env from serving/Dockerfile)")
    with server:
        print(f"ready on {server.url}, metrics on {server.metrics_url}")
        print("\n=== /metadata\n" + requests.get(f"{server.url}/metadata", timeout=10).text)
        print("=== /health/status\n" + requests.get(f"{server.url}/health/status", timeout=10).text)
        print("=== predictions")
        for title, body in good_requests(features, rows):
            send(server, title, body)
        print("\n=== bad requests (all 400, the server keeps serving)")
        for title, body in bad_requests(names, rows[0]):
            send(server, title, body)
        show_metrics(server)
    print(f"\nserver stopped; demo took {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
