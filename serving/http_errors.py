"""The server's errors, each with its HTTP status and Seldon's status body.

Seldon's wrapper answers errors with `{"status": {"status": 1, "info": <message>, "code": -1,
"reason": <reason>}}` (seldon_core/flask_utils.py, `SeldonMicroserviceException.to_dict`); the
executor and `SeldonClient` read that shape, so every error here answers it too.
"""

import orjson


class ServingError(Exception):
    """Base of the server's errors; subclasses set the HTTP status and Seldon reason."""

    status_code = 500
    reason = "MICROSERVICE_INTERNAL_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict:
        """Seldon's status body."""
        return {"status": {"code": -1, "info": self.message, "reason": self.reason, "status": 1}}

    def body(self) -> bytes:
        """The status body as JSON bytes."""
        return orjson.dumps(self.to_dict()) + b"\n"


class InvalidRequest(ServingError):
    """Bad client input: HTTP 400, reason MICROSERVICE_BAD_DATA."""

    status_code = 400
    reason = "MICROSERVICE_BAD_DATA"


class PayloadTooLarge(ServingError):
    """A body above MAX_REQUEST_BYTES: HTTP 413, refused before it is read."""

    status_code = 413
    reason = "MICROSERVICE_BAD_DATA"

    @classmethod
    def for_size(cls, what: str, limit: int) -> "PayloadTooLarge":
        """The error for a body of `what` (e.g. "2000 bytes") above `limit`."""
        return cls(
            f"request body of {what} exceeds the limit of {limit} bytes (MAX_REQUEST_BYTES); "
            "send fewer rows per request"
        )


class ProtocolError(ServingError):
    """Routing and HTTP errors (404, 405, 408, 431, 503...): the status is the HTTP code."""

    reason = "MICROSERVICE_BAD_REQUEST"

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
