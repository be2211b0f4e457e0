"""Helpers of the request-log suites."""

from localrun.executor_stand_in import ExecutorStandIn
from localrun.server_process import ModelServerProcess


def stand_in(model_server: ModelServerProcess, sink_url: str, deployment: str) -> ExecutorStandIn:
    """An executor stand-in for `seldon/<deployment>`, predictor `main`, logging to `sink_url`."""
    return ExecutorStandIn(
        model_server.url, sink_url, deployment=deployment, namespace="seldon", predictor="main"
    )
