"""The façade's one error type, answered in OpenAI's error shape: `{"error": {message, type, param, code}}`."""

from __future__ import annotations

from http import HTTPStatus

from selfaware.openai_http import ApiError

__all__ = ["ApiError", "not_found"]


def not_found(kind: str, ident: str, param: str = "id") -> ApiError:
    return ApiError(HTTPStatus.NOT_FOUND, f"No such {kind}: {ident}", param, None)
