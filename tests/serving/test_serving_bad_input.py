"""Every kind of bad input answers 400 with Seldon's status body and says what was expected."""

from typing import Any

import pytest
import requests

from localrun.server_process import ModelServerProcess
from tests.serving.serving_helpers import FEATURES, predict

ROW = [5.1, 3.5, 1.4, 0.2]
# (case, JSON body or raw text, expected fragment of the message)
JSON_CASES = [
    ("missing data", {"meta": {}}, "missing 'data': expected"),
    ("data not an object", {"data": "5.1,3.5"}, "'data' must be an object, got string"),
    ("meta not an object", {"meta": "x", "data": {"ndarray": [ROW]}}, "'meta' must be an object"),
    ("body is a list", [ROW], "request body must be a JSON object, got list"),
    ("empty ndarray", {"data": {"ndarray": []}}, "empty batch: 'data.ndarray' has no rows"),
    (
        "empty tensor",
        {"data": {"tensor": {"shape": [0, 4], "values": []}}},
        "empty batch: 'data.tensor.values' has no rows",
    ),
    ("short row", {"data": {"ndarray": [ROW, [1.0, 2.0, 3.0]]}}, "'data.ndarray[1]' has 3 values"),
    ("long row", {"data": {"ndarray": [[*ROW, 9.9]]}}, "has 5 values; expected 4 numbers"),
    ("flat row", {"data": {"ndarray": ROW}}, "'data.ndarray[0]' is a float; expected a row"),
    (
        "string value",
        {"data": {"ndarray": [[5.1, "abc", 1.4, 0.2]]}},
        "'data.ndarray[0][1]' (sepal_width) is string 'abc'; expected a finite number",
    ),
    ("null value", {"data": {"ndarray": [[5.1, 3.5, None, 0.2]]}}, "(petal_length) is null"),
    ("boolean value", {"data": {"ndarray": [[True, 3.5, 1.4, 0.2]]}}, "is boolean True"),
    (
        "huge integer",
        {"data": {"ndarray": [[10**400, 3.5, 1.4, 0.2]]}},
        "(sepal_length) is int",
    ),
    (
        "unknown names",
        {"data": {"names": ["a", "b", "c", "d"], "ndarray": [ROW]}},
        "do not match the model's features: unknown ['a', 'b', 'c', 'd']",
    ),
    (
        "missing name",
        {"data": {"names": FEATURES[:3], "ndarray": [ROW[:3]]}},
        "missing ['petal_width']",
    ),
    ("names not strings", {"data": {"names": [1, 2, 3, 4], "ndarray": [ROW]}}, "list of strings"),
    ("strData", {"strData": "5.1,3.5,1.4,0.2"}, "unsupported payload kind 'strData'"),
    ("jsonData", {"jsonData": {"sepal_length": 5.1}}, "unsupported payload kind 'jsonData'"),
    (
        "unknown data kind",
        {"data": {"tftensor": {}}},
        "expected exactly one of 'ndarray' or 'tensor'",
    ),
    (
        "tensor values too few",
        {"data": {"tensor": {"shape": [2, 4], "values": ROW}}},
        "shape[0]*shape[1] = 8 numbers, got 4",
    ),
    (
        "tensor width",
        {"data": {"tensor": {"shape": [1, 3], "values": ROW[:3]}}},
        "rows have 3 values; expected 4 numbers",
    ),
    ("tensor without shape", {"data": {"tensor": {"values": ROW}}}, "'shape' [rows, 4]"),
    (
        "batch above limit",
        {"data": {"ndarray": [ROW] * 1001}},
        "batch of 1001 rows exceeds the limit of 1000 rows per request (MAX_BATCH_ROWS)",
    ),
]
RAW_CASES = [
    ("not JSON", "{data: [1, 2]", "request body is not valid JSON"),
    ("empty body", "", "request body is empty"),
    ("JSON null", "null", "request body is JSON null"),
    ("nested too deeply", "[" * 100_000 + "]" * 100_000, "nests JSON too deeply"),
    ("NaN", '{"data": {"ndarray": [[NaN, 3.5, 1.4, 0.2]]}}', "(sepal_length) is nan"),
    ("Infinity", '{"data": {"ndarray": [[5.1, Infinity, 1.4, 0.2]]}}', "(sepal_width) is inf"),
    ("overflow", '{"data": {"ndarray": [[5.1, 3.5, -1e999, 0.2]]}}', "(petal_length) is -inf"),
]


def assert_bad_data(response: requests.Response, fragment: str) -> None:
    assert response.status_code == 400, response.text
    status = response.json()["status"]
    assert status["reason"] == "MICROSERVICE_BAD_DATA"
    assert fragment in status["info"], status["info"]


@pytest.mark.parametrize(
    ("body", "fragment"), [case[1:] for case in JSON_CASES], ids=[case[0] for case in JSON_CASES]
)
def test_bad_json_body_is_a_clear_400(
    registry_server: ModelServerProcess, body: Any, fragment: str
) -> None:
    assert_bad_data(predict(registry_server, body), fragment)


@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
@pytest.mark.parametrize(
    ("raw", "fragment"), [case[1:] for case in RAW_CASES], ids=[case[0] for case in RAW_CASES]
)
def test_bad_raw_body_is_a_clear_400(
    registry_server: ModelServerProcess, raw: str, fragment: str, content_type: str
) -> None:
    response = requests.post(
        f"{registry_server.url}/api/v1.0/predictions",
        data=raw,
        headers={"Content-Type": content_type},
        timeout=10,
    )

    assert_bad_data(response, fragment)


# (case, method, path, requests kwargs, expected status, expected fragment)
REQUEST_SHAPE_CASES = [
    ("multipart", "POST", "/api/v1.0/predictions", {"files": {"data": b"x"}}, 400, "multipart"),
    ("bad json= query", "GET", "/predict?json={oops", {}, 400, "not valid JSON"),
    ("bad json= form", "POST", "/api/v1.0/predictions", {"data": {"json": "[1,"}}, 400, "JSON"),
    ("feedback not JSON", "POST", "/api/v1.0/feedback", {"data": "reward=1"}, 400, "JSON"),
    ("transformer route", "POST", "/transform-input", {"json": {"data": {}}}, 404, "MODEL unit"),
    ("router route", "POST", "/route", {"json": {"data": {}}}, 404, "MODEL unit"),
]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "fragment"),
    [case[1:] for case in REQUEST_SHAPE_CASES],
    ids=[case[0] for case in REQUEST_SHAPE_CASES],
)
def test_other_request_shapes_are_clear_4xx(
    registry_server: ModelServerProcess,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    fragment: str,
) -> None:
    response = requests.request(method, f"{registry_server.url}{path}", timeout=10, **kwargs)

    assert response.status_code == status, response.text
    assert fragment in response.json()["status"]["info"]


def test_unknown_route_and_method_are_4xx_with_seldon_body(
    registry_server: ModelServerProcess,
) -> None:
    for response in (
        requests.get(f"{registry_server.url}/api/v1.0/predictions", timeout=10),
        requests.post(f"{registry_server.url}/api/v9/predict", json={}, timeout=10),
    ):
        assert 400 <= response.status_code < 500
        assert response.json()["status"]["status"] == 1


def test_json_sent_as_a_form_still_predicts(registry_server: ModelServerProcess) -> None:
    response = requests.post(
        f"{registry_server.url}/api/v1.0/predictions",
        data='{"data": {"ndarray": [[5.1, 3.5, 1.4, 0.2]]}}',
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )

    assert response.status_code == 200, response.text


def test_server_still_serves_after_all_bad_input(registry_server: ModelServerProcess) -> None:
    for _case, body, _fragment in JSON_CASES:
        predict(registry_server, body)

    response = predict(registry_server, {"data": {"ndarray": [ROW]}})

    assert response.status_code == 200
    assert requests.get(f"{registry_server.url}/health/status", timeout=10).status_code == 200
