"""A real Prometheus for a test (the local-run helper), and instant queries against it."""

import requests

from localrun.prometheus_server import running_prometheus

__all__ = ["query", "running_prometheus"]


def query(url: str, expr: str, at: float | None = None) -> list[dict]:
    """Result vector of an instant query; fails on a Prometheus error."""
    params = {"query": expr, **({"time": str(at)} if at is not None else {})}
    body = requests.get(f"{url}/api/v1/query", params=params, timeout=30).json()
    assert body["status"] == "success", body
    return body["data"]["result"]
