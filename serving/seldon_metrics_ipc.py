"""Skips Seldon's shared-memory metrics round trip when a request carries no metric.

seldon-core 1.19 calls `SeldonMetrics.update` after every request, even with an empty list,
and each call locks, reads and rewrites this worker's entry in a multiprocessing Manager
(about 0.4 ms of IPC on a 2-core machine). An empty update changes nothing, so skipping it is
invisible on the metrics port; non-empty updates still go through Seldon's own code.
"""

from seldon_core.metrics import SeldonMetrics

_seldon_update = SeldonMetrics.update


def _update_unless_empty(self: SeldonMetrics, custom_metrics: list[dict], method: str) -> None:
    if custom_metrics:
        _seldon_update(self, custom_metrics, method)


def skip_empty_metric_updates() -> None:
    """Install the skip; idempotent, applies to every SeldonMetrics in this process tree."""
    SeldonMetrics.update = _update_unless_empty
