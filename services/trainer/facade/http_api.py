"""The façade's HTTP routes: OpenAI's fine-tuning API paths and shapes, on the stdlib's threading HTTP server.

Shaped like `services/evaluator/openai_server.py` (one handler class, one dispatch that turns `ApiError` into
OpenAI's error JSON and anything else into a logged 500), with path parameters for the job routes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import structlog

from services.trainer.facade.errors import ApiError
from services.trainer.facade.inference import Forwarded, InferenceProxy
from services.trainer.facade.jobs import FineTuning
from services.trainer.facade.requests import job_request
from services.trainer.facade.uploads import parse_upload

log = structlog.get_logger(__name__)
_METADATA = re.compile(r"metadata\[(.+)\]")


@dataclass(frozen=True)
class Call:
    """One request as a route sees it."""

    params: dict[str, str]
    query: dict[str, str]
    body: bytes
    content_type: str

    def json(self) -> dict[str, Any]:
        try:
            value = json.loads(self.body or b"{}")
        except json.JSONDecodeError as error:
            raise ApiError(HTTPStatus.BAD_REQUEST, f"We could not parse the JSON body of your request: {error}") \
                from None
        if not isinstance(value, dict):
            raise ApiError(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
        return value

    def cursor(self) -> tuple[str | None, int]:
        limit = self.query.get("limit", "20")
        if not limit.isdigit() or not 1 <= int(limit) <= 100:
            raise ApiError(HTTPStatus.BAD_REQUEST, f"limit: must be an integer from 1 to 100, got {limit!r}",
                           "limit")
        return self.query.get("after") or None, int(limit)


Route = Callable[[Call], dict[str, Any] | Forwarded]


class FacadeApi:
    """The routes over the jobs and the inference proxy."""

    def __init__(self, fine_tuning: FineTuning, proxy: InferenceProxy) -> None:
        self.ft, self.proxy = fine_tuning, proxy
        job = r"/v1/fine_tuning/jobs/(?P<job>[^/]+)"
        self.routes: list[tuple[str, re.Pattern[str], Route]] = [(method, re.compile(path + "$"), route) for
                                                                  method, path, route in [
            ("POST", r"/v1/files", lambda c: self.ft.add_file(parse_upload(c.content_type, c.body))),
            ("GET", r"/v1/files/(?P<file>[^/]+)", lambda c: self.ft.file(c.params["file"])),
            ("POST", r"/v1/fine_tuning/jobs", lambda c: self.ft.create(job_request(c.json(), self.base))),
            ("GET", r"/v1/fine_tuning/jobs", self._jobs),
            ("GET", job, lambda c: self.ft.job(c.params["job"])),
            ("GET", job + "/events", lambda c: self.ft.events(c.params["job"], *c.cursor())),
            ("GET", job + "/checkpoints", lambda c: self.ft.checkpoints(c.params["job"], *c.cursor())),
            ("POST", job + "/cancel", lambda c: self.ft.cancel(c.params["job"])),
            ("GET", r"/v1/models", self._models),
            ("POST", r"/v1/chat/completions", self._chat),
        ]]

    @property
    def base(self) -> str:
        return self.ft.settings.served_name

    def answer(self, method: str, target: str, body: bytes, content_type: str) -> tuple[int, dict[str, Any] | bytes,
                                                                                      str]:
        """(status, JSON object or raw bytes, content type) for one request; never raises."""
        path, _, query = target.partition("?")
        path = path.rstrip("/")
        try:
            for verb, pattern, route in self.routes:
                if verb == method and (match := pattern.match(path)):
                    result = route(Call(match.groupdict(), dict(parse_qsl(query)), body, content_type))
                    if isinstance(result, Forwarded):
                        return result.status, result.body, result.content_type
                    return HTTPStatus.OK, result, "application/json"
            raise ApiError(HTTPStatus.NOT_FOUND, f"Invalid URL ({method} {path})")
        except ApiError as error:
            return error.status, error.body(), "application/json"
        except Exception as error:  # a bug: the client sees a 500 and may retry
            log.exception("facade_error", method=method, path=path)
            return (HTTPStatus.INTERNAL_SERVER_ERROR,
                    ApiError(HTTPStatus.INTERNAL_SERVER_ERROR, f"{type(error).__name__}: {error}").body(),
                    "application/json")

    def _jobs(self, call: Call) -> dict[str, Any]:
        metadata = {m.group(1): v for k, v in call.query.items() if (m := _METADATA.fullmatch(k))}
        return self.ft.jobs(*call.cursor(), metadata)

    def _models(self, call: Call) -> dict[str, Any]:
        names = [(self.base, None), *((name, self.base) for name in self.ft.served_models())]
        return {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "selfaware",
                                            "parent": parent} for name, parent in names]}

    def _chat(self, call: Call) -> Forwarded:
        model = call.json().get("model")
        if model != self.base:
            adapter = self.ft.adapter_of(model) if isinstance(model, str) else None
            if adapter is None:
                raise ApiError(HTTPStatus.NOT_FOUND, f"The model `{model}` does not exist.", "model",
                               "model_not_found")
            self.proxy.load_adapter(model, adapter)
        return self.proxy.post("/chat/completions", call.body)


class _Handler(BaseHTTPRequestHandler):
    server: FacadeServer
    protocol_version = "HTTP/1.1"  # keep-alive: the openai client reuses its connections

    def do_GET(self) -> None:
        self._send(*self.server.api.answer("GET", self.path, b"", ""))

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))  # always read: the connection lives on
        self._send(*self.server.api.answer("POST", self.path, body, self.headers.get("Content-Type", "")))

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http_request", line=format % args)

    def _send(self, status: int, result: dict[str, Any] | bytes, content_type: str) -> None:
        data = result if isinstance(result, bytes) else json.dumps(result).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FacadeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], api: FacadeApi) -> None:
        super().__init__(address, _Handler)
        self.api = api
