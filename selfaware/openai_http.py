"""What the project's two OpenAI-compatible HTTP servers share (the evaluator's inference server and the trainer's
fine-tuning façade): OpenAI's error shape, and the serve loop that prints the URL once listening."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from http import HTTPStatus
from http.server import HTTPServer
from typing import Any


class ApiError(Exception):
    """An error the client sees with its HTTP status, in OpenAI's error JSON; 4xx are `invalid_request_error`,
    5xx `server_error`."""

    def __init__(self, status: HTTPStatus, message: str, param: str | None = None,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code

    def body(self) -> dict[str, Any]:
        kind = "invalid_request_error" if self.status < 500 else "server_error"
        return {"error": {"message": self.message, "type": kind, "param": self.param, "code": self.code}}


def serve(server: HTTPServer, close: Callable[[], None]) -> None:
    """Print "listening on URL" (what callers wait for), serve until SIGTERM or Ctrl-C, then close."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    host, port = server.server_address[:2]
    print(f"listening on http://{host}:{port}/v1", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        close()
