"""A test double of the model server whose counters are exact by construction.

It serves the real registered iris model in-process (Seldon REST predictions and feedback) and
counts under prometheus_client's own locks, exposing on its metrics port the series the A/B
analysis reads: `mlops_model_predictions_total` per class and Seldon's
`seldon_api_model_feedback_total` / `seldon_api_model_feedback_reward_total`, with the predictor
labels the operator's environment gives the real server. It lets the A/B demo's decisions be
checked apart from the real server's accounting, which tests/monitoring/test_exact_evidence.py
checks on its own.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import mlflow.sklearn
import pandas as pd
from prometheus_client import CollectorRegistry, Counter, start_http_server

from localrun.process_group import free_port

LABELS = ("deployment_name", "predictor_name", "predictor_version", "model_name")


class ExactCountsServerDouble:
    """Stands in for `ModelServerProcess` in `localrun.abtest_demo` (start, stop, url, ports)."""

    def __init__(self, tracking_uri: str, predictor: str, version: str) -> None:
        mlflow.set_tracking_uri(tracking_uri)
        self.model = mlflow.sklearn.load_model(f"models:/iris/{version}")
        self.names = [str(name) for name in self.model.classes_]
        self.labels = ("iris", predictor, predictor, "classifier")
        self.registry = CollectorRegistry()
        self.predictions = Counter(
            "mlops_model_predictions", "rows", [*LABELS, "class"], registry=self.registry
        )
        self.feedback = Counter(
            "seldon_api_model_feedback", "feedbacks", LABELS, registry=self.registry
        )
        self.reward = Counter(
            "seldon_api_model_feedback_reward", "rewards", LABELS, registry=self.registry
        )
        self.port, self.metrics_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._servers: list = []

    def start(self) -> None:
        metrics, _ = start_http_server(self.metrics_port, "127.0.0.1", registry=self.registry)
        http = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        threading.Thread(target=http.serve_forever, daemon=True).start()
        self._servers = [http, metrics]

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        self._servers = []

    def answer(self, path: str, body: dict) -> dict:
        if path.endswith("/feedback"):
            self.feedback.labels(*self.labels).inc()
            self.reward.labels(*self.labels).inc(float(body["reward"]))
            return {"data": {}}
        rows = pd.DataFrame(body["data"]["ndarray"], columns=self.model.feature_names_in_)
        probabilities = self.model.predict_proba(rows)
        for winner in probabilities.argmax(axis=1):
            self.predictions.labels(*self.labels, self.names[winner]).inc()
        return {"data": {"names": self.names, "ndarray": probabilities.tolist()}}


def _handler(double: ExactCountsServerDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - stdlib name
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            content = json.dumps(double.answer(self.path, body)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
            """Quiet."""

    return Handler
