"""gRPC client errors, through a real gRPC client against the real server.

A bad request answers INVALID_ARGUMENT with exactly the message REST puts in `status.info`,
and the server logs one line for it, not grpcio's traceback.
"""

import time

import grpc
import pytest
from seldon_core.proto import prediction_pb2_grpc
from seldon_core.utils import json_to_seldon_message

from localrun.server_process import ModelServerProcess
from tests.serving.serving_helpers import predict

BAD_BODY = {"data": {"ndarray": [[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]]}}
GOOD_BODY = {"data": {"ndarray": [[5.1, 3.5, 1.4, 0.2]]}}


def new_log(server: ModelServerProcess, start: int, fragment: str) -> str:
    """The log written since `start`, once it holds `fragment` (bounded wait for the flush)."""
    deadline = time.monotonic() + 10
    text = ""
    while time.monotonic() < deadline:
        text = server.log_path.read_text(errors="replace")[start:]
        if fragment in text:
            break
        time.sleep(0.2)
    return text


def test_bad_grpc_request_is_invalid_argument_with_the_rest_message_and_one_log_line(
    registry_server: ModelServerProcess,
) -> None:
    start = len(registry_server.log_path.read_text(errors="replace"))
    with grpc.insecure_channel(f"127.0.0.1:{registry_server.grpc_port}") as channel:
        stub = prediction_pb2_grpc.ModelStub(channel)
        with pytest.raises(grpc.RpcError) as rejected:
            stub.Predict(json_to_seldon_message(BAD_BODY), timeout=10)
        answered = stub.Predict(json_to_seldon_message(GOOD_BODY), timeout=10)
    rest_message = predict(registry_server, BAD_BODY).json()["status"]["info"]

    assert rejected.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert rejected.value.details() == rest_message
    assert "has 7 values" in rest_message
    assert answered.data.names
    log = new_log(registry_server, start, "gRPC /seldon.protos.Model/Predict rejected")
    grpc_lines = [line for line in log.splitlines() if "gRPC" in line and "has 7 values" in line]
    assert len(grpc_lines) == 1, log
    assert "Traceback" not in log
