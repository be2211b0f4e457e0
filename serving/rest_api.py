"""Seldon's REST protocol for a MODEL unit, as seldon-core 1.19's wrapper routes it.

Paths, methods and answers follow seldon_core/wrapper.py (`get_rest_microservice`): predictions
and feedback take a JSON body, or a `json` form field or query parameter (`flask_utils.
get_request`, which `SeldonClient` uses); errors answer Seldon's status body with their status.
Routers', combiners' and transformers' paths answer 404 saying this is a model.
"""

import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import orjson

from serving.accounting import Accounting
from serving.http_errors import InvalidRequest, ProtocolError, ServingError
from serving.http_server import Request, Response
from serving.model_server import ModelServer

logger = logging.getLogger(__name__)

EXAMPLE_BODY = '{"data": {"ndarray": [[...]]}}'
PREDICT = ("/api/v1.0/predictions", "/api/v0.1/predictions")
FEEDBACK = ("/api/v1.0/feedback", "/api/v0.1/feedback")
OTHER_UNITS = ("/transform-input", "/transform-output", "/route", "/aggregate")
SORTED = orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY


class RestApi:
    """Routes one request to the model server and encodes its answer."""

    def __init__(self, server: ModelServer) -> None:
        self._server = server
        payload = {"predict": server.predict, "feedback": server.feedback}
        self._routes: dict[str, tuple[tuple[str, ...], Callable[[Request], Response]]] = {
            "/health/ping": (
                ("GET",),
                lambda _: Response(200, b"pong", "text/html; charset=utf-8"),
            ),
            "/health/status": (("GET",), lambda _: _json(server.health_status())),
            "/api/v1.0/health/status": (("GET",), lambda _: _json(server.health_status())),
            "/metadata": (("GET",), lambda _: _json(server.metadata())),
            "/api/v1.0/metadata": (("GET",), lambda _: _json(server.metadata())),
        }
        for method, paths, legacy in (
            ("predict", PREDICT, "/predict"),
            ("feedback", FEEDBACK, "/send-feedback"),
        ):
            answer = self._payload_route(method, payload[method])
            for path in paths:
                self._routes[path] = (("POST",), answer)
            self._routes[legacy] = (("GET", "POST"), answer)

    @property
    def accounting(self) -> Accounting:
        return self._server.accounting

    def __call__(self, request: Request) -> Response:
        route = self._routes.get(request.path)
        if route is None:
            if request.path in OTHER_UNITS:
                raise ProtocolError(
                    404,
                    f"404 Not Found: {request.path} belongs to routers, combiners and "
                    "transformers; this MODEL unit serves /api/v1.0/predictions",
                )
            raise ProtocolError(
                404,
                f"404 Not Found: {request.path} is not a Seldon model endpoint; "
                "predictions are served at POST /api/v1.0/predictions",
            )
        methods, answer = route
        if request.method not in methods:
            raise ProtocolError(
                405, f"405 Method Not Allowed: {request.path} takes {' or '.join(methods)}"
            )
        return answer(request)

    def _payload_route(
        self, method: str, answer: Callable[[Any], dict[str, Any]]
    ) -> Callable[[Request], Response]:
        def route(request: Request) -> Response:
            try:
                return _json(answer(_decoded_body(request)))
            except ServingError as error:
                self.accounting.error(method, error.status_code)
                if error.status_code < 500:
                    logger.warning("%s rejected: %s", method, error.message)
                raise
            except Exception:
                self.accounting.error(method, 500)  # answered 500 by serving/http_server.py
                raise

        return route


def _json(answer: dict[str, Any]) -> Response:
    return Response(200, orjson.dumps(answer, option=SORTED) + b"\n")


def _lenient_json(raw: bytes | str) -> Any:
    """orjson refuses NaN, Infinity and integers beyond 64 bits; the standard library reads them,
    so that the parser can name the offending value and its position instead."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise InvalidRequest(
            f"request body nests JSON too deeply; expected a JSON object like {EXAMPLE_BODY}"
        ) from None
    except ValueError as error:
        raise InvalidRequest(
            f"request body is not valid JSON ({error}); expected a JSON object like {EXAMPLE_BODY}"
        ) from None


def _decoded_body(request: Request) -> Any:
    """The JSON document of a prediction or feedback request, or a 400 naming the problem."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        raise InvalidRequest(
            f"multipart/form-data is not supported; send a JSON body like {EXAMPLE_BODY}"
        )
    raw: bytes | str = request.body
    form = None
    if content_type == "application/x-www-form-urlencoded":
        form = parse_qs(request.body.decode("latin-1")).get("json")
    if form is None and request.query:
        form = parse_qs(request.query).get("json")
    if form:
        raw = form[0]
    if not raw.strip():
        raise InvalidRequest(f"request body is empty; expected a JSON object like {EXAMPLE_BODY}")
    try:
        decoded = orjson.loads(raw)
    except orjson.JSONDecodeError:
        decoded = _lenient_json(raw)
    if decoded is None:
        raise InvalidRequest(
            f"request body is JSON null; expected a JSON object like {EXAMPLE_BODY}"
        )
    return decoded
