"""The façade's one error type, answered in OpenAI's error shape: `{"error": {message, type, param, code}}`."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any


class ApiError(Exception):
    """An error the client sees with its HTTP status; 4xx are `invalid_request_error`, 5xx `server_error`."""

    def __init__(self, status: HTTPStatus, message: str, param: str | None = None,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code

    def body(self) -> dict[str, Any]:
        kind = "invalid_request_error" if self.status < 500 else "server_error"
        return {"error": {"message": self.message, "type": kind, "param": self.param, "code": self.code}}


def not_found(kind: str, ident: str, param: str = "id") -> ApiError:
    return ApiError(HTTPStatus.NOT_FOUND, f"No such {kind}: {ident}", param, None)
