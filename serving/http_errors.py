"""The server's error hierarchy (each class carries its HTTP status) and the HTTP guards.

Seldon's wrapper registers the blueprint built here (the model's `model_error_handler`) and
answers every `SeldonMicroserviceException` with its `status_code` and Seldon's status body.
Without the guards a body that is not JSON, or JSON sent as a form, surfaces as a 500 from
Flask's generic handler, and an oversized body would be read whole into a worker.
"""

import io
import json

from flask import Blueprint, Response, jsonify, request
from seldon_core.flask_utils import SeldonMicroserviceException
from werkzeug.exceptions import HTTPException, NotFound

PAYLOAD_ENDPOINTS = {"Predict", "SendFeedback"}
OTHER_UNIT_ENDPOINTS = {"TransformInput", "TransformOutput", "Route", "Aggregate"}
EXAMPLE_BODY = '{"data": {"ndarray": [[...]]}}'


class ServingError(SeldonMicroserviceException):
    """Base of the server's own errors; subclasses set the HTTP status and Seldon reason."""

    status_code = 500
    reason = "MICROSERVICE_INTERNAL_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message, status_code=type(self).status_code, reason=type(self).reason)
        self.args = (message,)  # so gRPC error details and logs carry the message too


class InvalidRequest(ServingError):
    """Bad client input: HTTP 400, reason MICROSERVICE_BAD_DATA."""

    status_code = 400
    reason = "MICROSERVICE_BAD_DATA"


class PayloadTooLarge(ServingError):
    """A body above MAX_REQUEST_BYTES: HTTP 413, refused before it is read."""

    status_code = 413
    reason = "MICROSERVICE_BAD_DATA"


def error_blueprint(max_request_bytes: int) -> Blueprint:
    """The guards and handlers Seldon registers on its Flask app, with the body limit."""
    blueprint = Blueprint("model_error_handler", __name__)

    @blueprint.before_app_request
    def refuse_oversized_body() -> None:
        """Refuse a body above the limit having read at most limit + 1 bytes of it."""
        environ = request.environ
        length = request.content_length
        if length is not None:
            if length > max_request_bytes:
                raise PayloadTooLarge(_too_large(f"{length} bytes", max_request_bytes))
            return
        if "chunked" not in request.headers.get("Transfer-Encoding", "").lower():
            return
        # Read a chunked body here with the cap (gunicorn's input ends where the body does),
        # then hand Flask the bytes with their length. Werkzeug's own max_content_length
        # stream stops at the limit without an error, so a longer body would arrive truncated.
        body = environ["wsgi.input"].read(max_request_bytes + 1)
        if len(body) > max_request_bytes:
            raise PayloadTooLarge(_too_large("a chunked body", max_request_bytes))
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        del environ["wsgi.input_terminated"]

    blueprint.before_app_request(require_json_body)
    blueprint.app_errorhandler(HTTPException)(http_error)
    return blueprint


def _too_large(what: str, limit: int) -> str:
    return (
        f"request body of {what} exceeds the limit of {limit} bytes (MAX_REQUEST_BYTES); "
        "send fewer rows per request"
    )


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
