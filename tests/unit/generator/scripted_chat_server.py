"""A stdlib HTTP server on loopback that speaks the chat completions route with scripted answers.

Real HTTP, so the real `openai` client and `selfaware.openai_endpoint` talk to it; only the answers are
scripted: first any queued error replies, then `answer(body)` for each request, and an error for every request
after the first `fail_after` (a server that goes down half way). An answer is the reply's text, or `TopTokens`: a
first token's top logprobs, sent as the `logprobs` of the reply (whose text is the most likely token). It records
every request body and the peak number of requests in flight.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class TopTokens:
    """A reply's first-token top logprobs, most likely first: `[(token, logprob), ...]`."""

    top: list[tuple[str, float]]

    def logprobs(self) -> dict[str, Any]:
        top = [{"token": token, "logprob": logprob, "bytes": None} for token, logprob in self.top]
        return {"content": [{**top[0], "top_logprobs": top}]}


Answer = Callable[[dict[str, Any]], "str | TopTokens"]


@dataclass
class ErrorReply:
    status: int
    headers: dict[str, str] = field(default_factory=dict)


class ScriptedChat:
    def __init__(self, answer: Answer, delay_s: float = 0.0, fail_after: int | None = None) -> None:
        self.answer = answer
        self.delay_s = delay_s
        self.fail_after = fail_after
        self.errors: list[ErrorReply] = []
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.in_flight = self.peak = 0
        self._lock = threading.Lock()

    def reply(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict[str, str], dict[str, Any]]:
        with self._lock:
            self.bodies.append(body)
            self.headers.append(headers)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            error = self.errors.pop(0) if self.errors else None
            if error is None and self.fail_after is not None and len(self.bodies) > self.fail_after:
                error = ErrorReply(400)
        try:
            time.sleep(self.delay_s)
            if error is not None:
                return error.status, error.headers, {"error": {"message": f"scripted {error.status}",
                                                               "type": "error", "param": None, "code": None}}
            answer = self.answer(body)
            text, logprobs = ((answer.top[0][0], answer.logprobs()) if isinstance(answer, TopTokens)
                              else (answer, None))
            return 200, {}, {"id": "x", "object": "chat.completion", "created": 0, "model": body.get("model"),
                             "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                          "finish_reason": "stop", "logprobs": logprobs}]}
        finally:
            with self._lock:
                self.in_flight -= 1


@contextmanager
def serve(chat: ScriptedChat) -> Iterator[str]:
    """The server's API root ("http://127.0.0.1:<port>/v1") while the block runs."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, headers, body = chat.reply(json.loads(raw), {k.lower(): v for k, v in self.headers.items()})
            data = json.dumps(body).encode()
            self.send_response(status)
            for key, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
