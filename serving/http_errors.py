"""Answers malformed HTTP requests with Seldon's status body and a 4xx, never a 500.

Seldon's wrapper registers this blueprint (the model's `model_error_handler`). Without it a
body that is not JSON, or JSON sent as a form, surfaces as a 500 from Flask's generic handler.
"""

import json

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import HTTPException, NotFound

from serving.request_payload import InvalidRequest

PAYLOAD_ENDPOINTS = {"Predict", "SendFeedback"}
OTHER_UNIT_ENDPOINTS = {"TransformInput", "TransformOutput", "Route", "Aggregate"}
EXAMPLE_BODY = '{"data": {"ndarray": [[...]]}}'

model_error_handler = Blueprint("model_error_handler", __name__)


@model_error_handler.before_app_request
def require_json_body() -> None:
    """Decode the prediction body up front (Flask caches it) so bad JSON is a clear 400."""
    if request.endpoint in OTHER_UNIT_ENDPOINTS:
        raise NotFound(
            f"{request.path} belongs to routers, combiners and transformers; "
            "this MODEL unit serves /api/v1.0/predictions"
        )
    if request.endpoint not in PAYLOAD_ENDPOINTS:
        return
    if request.mimetype == "multipart/form-data":
        raise InvalidRequest(
            f"multipart/form-data is not supported; send a JSON body like {EXAMPLE_BODY}"
        )
    # The body first: it caches the raw bytes before a form parse could consume them.
    try:
        body = request.get_json(force=True, silent=True)
    except RecursionError:
        raise InvalidRequest(
            f"request body nests JSON too deeply; expected a JSON object like {EXAMPLE_BODY}"
        ) from None
    form_json = request.form.get("json") or request.args.get("json")
    if form_json is None and body is not None:
        return
    raw = form_json if form_json is not None else request.get_data(as_text=True)
    if not raw.strip():
        raise InvalidRequest(f"request body is empty; expected a JSON object like {EXAMPLE_BODY}")
    try:
        decoded = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise InvalidRequest(
            f"request body is not valid JSON ({error}); expected a JSON object like {EXAMPLE_BODY}"
        ) from None
    if decoded is None:
        raise InvalidRequest(
            f"request body is JSON null; expected a JSON object like {EXAMPLE_BODY}"
        )


@model_error_handler.app_errorhandler(HTTPException)
def http_error(error: HTTPException) -> tuple[Response, int]:
    """Routing and protocol errors (404, 405, 413, 415...) keep their code in Seldon's body."""
    code = error.code or 400
    body = {
        "status": {
            "status": 1,
            "info": f"{code} {error.name}: {error.description}",
            "code": -1,
            "reason": "MICROSERVICE_BAD_REQUEST",
        }
    }
    return jsonify(body), code
