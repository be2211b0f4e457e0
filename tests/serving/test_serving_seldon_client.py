"""Seldon's own client (seldon_core.seldon_client, REST and gRPC) as the conformance peer.

The same request answers the same over both transports, with the predictor's tags; feedback is
accepted and counted; bad input fails the way each transport reports a client error; rewards
outside [FEEDBACK_REWARD_MIN, FEEDBACK_REWARD_MAX], NaN, infinite or an integer too large for a
float, are a 400 naming the range, and the server keeps serving.
"""

import math
from collections.abc import Iterator
from typing import Any

import grpc
import numpy as np
import pytest
import requests
from google.protobuf import empty_pb2
from prometheus_client.parser import text_string_to_metric_families
from seldon_core.proto import prediction_pb2_grpc
from seldon_core.seldon_client import SeldonClient

from localrun.server_process import OPERATOR_ENV, ModelServerProcess

ROW = [5.1, 3.5, 1.4, 0.2]
REWARD_RANGE = ("0.5", "2")


@pytest.fixture(scope="module")
def server(trained_model: dict[str, Any]) -> Iterator[ModelServerProcess]:
    env = {"FEEDBACK_REWARD_MIN": REWARD_RANGE[0], "FEEDBACK_REWARD_MAX": REWARD_RANGE[1]}
    with ModelServerProcess(trained_model["local_model_dir"], env=env) as running:
        yield running


def client(server: ModelServerProcess, transport: str) -> SeldonClient:
    port = server.http_port if transport == "rest" else server.grpc_port
    return SeldonClient(transport=transport, microservice_endpoint=f"127.0.0.1:{port}")


def reward_total(server: ModelServerProcess) -> tuple[float, float]:
    found = {}
    for family in text_string_to_metric_families(requests.get(server.metrics_url, timeout=10).text):
        for sample in family.samples:
            found[sample.name] = sample.value
    return found["seldon_api_model_feedback_total"], found["seldon_api_model_feedback_reward_total"]


def test_rest_and_grpc_answer_the_same_with_the_predictors_tags(server: ModelServerProcess) -> None:
    answers = {}
    for transport in ("rest", "grpc"):
        result = client(server, transport).microservice(data=np.array([ROW]), method="predict")
        assert result.success, result.msg
        answers[transport] = result.response

    rest, grpc_answer = answers["rest"], answers["grpc"]
    assert (
        list(rest.data.names)
        == list(grpc_answer.data.names)
        == ["setosa", "versicolor", "virginica"]
    )
    assert list(rest.data.tensor.values) == pytest.approx(list(grpc_answer.data.tensor.values))
    assert math.isclose(sum(rest.data.tensor.values), 1.0)
    for answer in (rest, grpc_answer):
        tags = {key: value.string_value for key, value in answer.meta.tags.items()}
        assert tags == {
            "deployment": OPERATOR_ENV["SELDON_DEPLOYMENT_ID"],
            "predictor": OPERATOR_ENV["PREDICTOR_ID"],
            "model_name": "model",
            "model_version": "local",
        }
        assert dict(answer.meta.requestPath) == {
            OPERATOR_ENV["PREDICTIVE_UNIT_ID"]: OPERATOR_ENV["PREDICTIVE_UNIT_IMAGE"]
        }


def test_feedback_over_both_transports_is_accepted_and_counted(server: ModelServerProcess) -> None:
    count, total = reward_total(server)
    for transport, reward in (("rest", 1.5), ("grpc", 0.5)):
        seldon = client(server, transport)
        prediction = seldon.microservice(data=np.array([ROW]), method="predict")
        result = seldon.microservice_feedback(
            prediction_request=prediction.request,
            prediction_response=prediction.response,
            reward=reward,
        )
        assert result.success, result.msg
        assert result.response.meta.tags["predictor"].string_value == OPERATOR_ENV["PREDICTOR_ID"]

    assert reward_total(server) == (count + 2, total + 2.0)


def test_bad_input_is_a_client_error_on_both_transports(server: ModelServerProcess) -> None:
    rest = client(server, "rest").microservice(data=np.array([[1.0, 2.0]]), method="predict")
    grpc_result = client(server, "grpc").microservice(data=np.array([[1.0, 2.0]]), method="predict")

    assert not rest.success and rest.msg == "BAD REQUEST"
    assert not grpc_result.success
    assert "StatusCode.INVALID_ARGUMENT" in grpc_result.msg
    assert "rows have 2 values; expected 4 numbers" in grpc_result.msg


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        ('{"reward": 2.5}', "2.5"),
        ('{"reward": 0.25}', "0.25"),
        ('{"reward": -3}', "-3"),
        ('{"reward": 1e30}', "1e+30"),
        ('{"reward": 1' + "0" * 400 + "}", "an integer of 401 digits, too large for a number"),
        ('{"reward": NaN}', "nan"),
        ('{"reward": Infinity}', "inf"),
        ('{"reward": "1"}', "string"),
        ('{"reward": true}', "boolean"),
    ],
)
def test_rewards_outside_the_declared_range_are_a_400_naming_it(
    server: ModelServerProcess, body: str, shown: str
) -> None:
    before = reward_total(server)
    answer = requests.post(
        f"{server.url}/api/v1.0/feedback",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=10,
    )

    assert answer.status_code == 400, answer.text
    info = answer.json()["status"]["info"]
    assert f"feedback 'reward' is {shown}" in info
    assert "expected a number in [0.5, 2] (FEEDBACK_REWARD_MIN, FEEDBACK_REWARD_MAX)" in info
    assert reward_total(server) == before
    # The refusal left the server serving: the next reward in range is counted.
    accepted = requests.post(f"{server.url}/api/v1.0/feedback", json={"reward": 1}, timeout=10)
    assert accepted.status_code == 200, accepted.text
    assert reward_total(server) == (before[0] + 1, before[1] + 1.0)


def test_out_of_range_reward_over_grpc_is_invalid_argument(server: ModelServerProcess) -> None:
    result = client(server, "grpc").microservice_feedback(
        prediction_request=None, prediction_response=None, reward=7.0
    )

    assert not result.success
    assert "StatusCode.INVALID_ARGUMENT" in result.msg
    assert "expected a number in [0.5, 2]" in result.msg


def test_metadata_is_the_same_over_rest_and_grpc(server: ModelServerProcess) -> None:
    rest = requests.get(f"{server.url}/metadata", timeout=10).json()
    with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        answer = prediction_pb2_grpc.ModelStub(channel).Metadata(empty_pb2.Empty(), timeout=10)

    assert (answer.name, list(answer.versions), answer.platform) == (
        rest["name"],
        rest["versions"],
        "sklearn",
    )
    assert [i.name for i in answer.inputs] == [i["name"] for i in rest["inputs"]]
    assert dict(answer.custom) == rest["custom"]
