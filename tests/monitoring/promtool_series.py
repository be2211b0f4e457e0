"""promtool input series shaped exactly as the Seldon executor and the Python wrapper emit them."""

EXECUTOR_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
"""DefBuckets of the Go executor (executor/api/metric/constants.go)."""

MINUTES = 40


def _labels(labels: dict[str, str]) -> str:
    return ", ".join(f'{key}="{value}"' for key, value in labels.items())


def _series(metric: str, labels: dict[str, str], per_minute: float, values: str = "") -> dict:
    return {
        "series": f"{metric}{{{_labels(labels)}}}",
        "values": values or f"0+{per_minute:g}x{MINUTES}",
    }


def executor_requests(
    predictor: str,
    per_minute_by_code: dict[str, int],
    slowest_bucket: float,
    service: str = "predictions",
    values: str = "",
    deployment: str = "iris",
    namespace: str = "seldon",
) -> list[dict]:
    """Histogram series of requests to `predictor` of `namespace/deployment`, every latency in
    the bucket ending at `slowest_bucket`, so quantiles interpolate inside it; `values` overrides
    the sample notation.
    """
    base = {
        "namespace": namespace,
        "pod": f"{deployment}-{predictor}-0-abc",
        "deployment_name": deployment,
        "predictor_name": predictor,
        "predictor_version": "v1",
        "service": service,
        "method": "post",
    }
    series = []
    for code, per_minute in per_minute_by_code.items():
        labels = {**base, "code": code}
        name = "seldon_api_executor_server_requests_seconds"
        series.append(_series(f"{name}_count", labels, per_minute, values))
        for bound in (*EXECUTOR_BUCKETS, "+Inf"):
            in_bucket = bound == "+Inf" or bound >= slowest_bucket
            bucket_values = values if in_bucket else "0x40"
            series.append(
                _series(
                    f"{name}_bucket",
                    {**labels, "le": str(bound)},
                    per_minute if in_bucket else 0,
                    bucket_values,
                )
            )
    return series


def wrapper_metric(metric: str, predictor: str, worker: str, values: str, **labels: str) -> dict:
    """A series of the Python wrapper for one gunicorn worker, with Seldon's default labels."""
    return _series(
        metric,
        {
            "namespace": "seldon",
            "pod": f"iris-{predictor}-0-abc",
            "deployment_name": "iris",
            "predictor_name": predictor,
            "predictor_version": "v1",
            "model_name": "classifier",
            "worker_id": worker,
            **labels,
        },
        0,
        values,
    )
