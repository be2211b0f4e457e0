"""A local stand-in for the Istio ingress gateway and the Seldon executor, for what cannot run here.

It applies a rendered VirtualService (the one `infra.traffic_routing.virtual_service` declares):
HTTP rules in order, first match wins (`uri` exact/prefix/regex, `headers` exact), `rewrite.uri`
replacing the matched prefix, one destination drawn by `weight`, `mirror` with
`mirrorPercentage`, and `headers.response.set`. Destinations are looked up by host in `backends`
(host -> base URL of a real model server). For every request it forwards it records, per
predictor, the histogram the Seldon executor records in front of its model server
(`seldon_api_executor_server_requests_seconds` with the labels of executor/api/metric at
v1.17.1: deployment_name, predictor_name, predictor_version, service, method, code), on its own
metrics port, so a real Prometheus can scrape what it would scrape from executors.
"""

import random
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests
from prometheus_client import CollectorRegistry, Histogram, start_http_server

from localrun.process_group import free_port

EXECUTOR_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
"""DefBuckets of executor/api/metric/constants.go."""
FORWARD_TIMEOUT_S = 30
SERVICES = {"predictions": "predictions", "feedback": "feedback"}


class GatewayStandIn:
    """Serves `virtual_service` on a free local port until stopped; use as a context manager."""

    def __init__(
        self, virtual_service: dict, backends: dict[str, str], *, deployment: str, seed: int = 0
    ) -> None:
        self.rules = virtual_service["spec"]["http"]
        self.backends = backends
        self.deployment = deployment
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.registry = CollectorRegistry()
        self.histogram = Histogram(
            "seldon_api_executor_server_requests_seconds",
            "Latency of requests forwarded to each predictor, as the executor measures it.",
            ["deployment_name", "predictor_name", "predictor_version", "service", "method", "code"],
            buckets=EXECUTOR_BUCKETS,
            registry=self.registry,
        )
        self.port, self.metrics_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.metrics_url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self._metrics_server = None

    def __enter__(self) -> "GatewayStandIn":
        self._metrics_server, _ = start_http_server(
            self.metrics_port, addr="127.0.0.1", registry=self.registry
        )
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
            self._metrics_server.server_close()

    def route(self, path: str, headers: dict[str, str]) -> tuple[dict, str] | None:
        """(rule, rewritten path) of the first matching rule, or None (a 404 at the gateway)."""
        for rule in self.rules:
            for match in rule.get("match", [{}]):
                rewritten = _matches(match, path, headers, rule.get("rewrite", {}).get("uri"))
                if rewritten is not None:
                    return rule, rewritten
        return None

    def pick(self, destinations: list[dict]) -> dict:
        with self.lock:
            return self.random.choices(destinations, [d.get("weight", 100) for d in destinations])[
                0
            ]

    def mirrored(self, rule: dict) -> bool:
        if "mirror" not in rule:
            return False
        with self.lock:
            return self.random.random() * 100 < rule.get("mirrorPercentage", {}).get("value", 100)

    def forward(self, destination: dict, method: str, path: str, body: bytes, headers: dict):
        """Send the request to the destination's backend and record it as its executor would."""
        host = destination["host"]
        started = time.perf_counter()
        try:
            answer = requests.request(
                method,
                self.backends[host] + path,
                data=body,
                headers={k: v for k, v in headers.items() if k.lower() == "content-type"},
                timeout=FORWARD_TIMEOUT_S,
            )
            status, content, content_type = answer.status_code, answer.content, answer.headers
        except requests.RequestException:
            status, content, content_type = 503, b"upstream unavailable", {}
        service = path.rstrip("/").rsplit("/", 1)[-1]
        if service in SERVICES:
            # The operator's predictor Service is `<deployment>-<predictor>`.
            predictor = host.split(".", 1)[0].removeprefix(f"{self.deployment}-")
            self.histogram.labels(
                self.deployment, predictor, predictor,
                SERVICES[service], method.lower(), str(status),
            ).observe(time.perf_counter() - started)  # fmt: skip
        return status, content, content_type.get("Content-Type", "application/json")


def _matches(match: dict, path: str, headers: dict[str, str], rewrite: str | None) -> str | None:
    uri = match.get("uri", {"prefix": "/"})
    if "exact" in uri and path != uri["exact"]:
        return None
    if "prefix" in uri and not path.startswith(uri["prefix"]):
        return None
    if "regex" in uri and not re.fullmatch(uri["regex"], path):
        return None
    for name, expected in match.get("headers", {}).items():
        if headers.get(name.lower()) != expected["exact"]:
            return None
    if rewrite is None:
        return path
    if "prefix" in uri:
        return rewrite + path[len(uri["prefix"]) :]
    return rewrite


def _handler(gateway: GatewayStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
            headers = {key.lower(): value for key, value in self.headers.items()}
            routed = gateway.route(self.path, headers)
            if routed is None:
                self._reply(404, b"no route", "text/plain", {})
                return
            rule, path = routed
            destination = gateway.pick(rule["route"])
            if gateway.mirrored(rule):
                mirror = {**rule["mirror"], "weight": 100}
                threading.Thread(
                    target=gateway.forward,
                    args=(mirror, self.command, path, body, headers),
                    daemon=True,
                ).start()
            status, content, content_type = gateway.forward(
                destination["destination"], self.command, path, body, headers
            )
            extra = destination.get("headers", {}).get("response", {}).get("set", {})
            self._reply(status, content, content_type, extra)

        def _reply(self, status: int, content: bytes, content_type: str, extra: dict) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(content)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = _serve

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
            """Quiet: the demo prints what matters."""

    return Handler
