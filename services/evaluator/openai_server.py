"""A small OpenAI-compatible server over the project's HF engine: the endpoint the `openai` engine is tested on.

Why it exists: no hosted endpoint can be reached from development and CI machines, and vLLM's server takes over
20 s to start and several GiB. This one starts in a few seconds and speaks the part of the API the
`openai` engine uses: `GET /v1/models`, `POST /v1/chat/completions` (n, temperature, max_tokens, seed, logprobs,
top_logprobs) and vLLM's runtime adapter route `POST /v1/load_lora_adapter`; `model=<lora_name>` then selects that
adapter. `GET /v1/stats` counts the requests served, so tests can check that a cached rerun sent none.

It is a fixture for tests and the demo, neither the vendor nor a production server: one model, one request at a time,
logprobs for the first position only (its top-k, with the most likely token as the chosen one), and
`finish_reason` is not tracked (null). Stdlib only, besides the HF engine.

    python -m services.evaluator.openai_server --model DIR [--host 127.0.0.1] [--port 0] [--served-name NAME]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import structlog

from selfaware.logs import configure_logging
from selfaware.models import resolve_base_model
from selfaware.openai_http import ApiError, serve
from selfaware.v1 import spec_pb2
from services.evaluator.engines import Adapter, ChoiceRequest, HfOptions, Messages, SampleRequest
from services.evaluator.engines.hf_engine import HfEngine

log = structlog.get_logger(__name__)

#: vLLM's stand-in for log(0), which JSON cannot hold.
_LOG_ZERO = -9999.0


class ServedModels:
    """The base model under its served name, and the adapters loaded by name; one engine call at a time."""

    def __init__(self, engine: HfEngine, served_name: str) -> None:
        self.engine = engine
        self.served_name = served_name
        self.requests: Counter[str] = Counter()
        self._adapters: dict[str, Adapter] = {}
        self._lock = threading.Lock()

    def models(self) -> dict[str, Any]:
        with self._lock:
            names = [(self.served_name, None), *((name, self.served_name) for name in self._adapters)]
        return {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "selfaware", "parent": parent}
                                           for name, parent in names]}

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self.requests)

    def load_lora_adapter(self, body: dict[str, Any]) -> str:
        """vLLM's contract: 400 for a missing field, a base-model name or a name already taken; 404 when the
        path holds no adapter. Loading the same name from the same path again succeeds (idempotent)."""
        name, path = body.get("lora_name"), body.get("lora_path")
        if not isinstance(name, str) or not name or not isinstance(path, str) or not path:
            raise ApiError(HTTPStatus.BAD_REQUEST, "Both 'lora_name' and 'lora_path' must be provided.")
        if name == self.served_name:
            raise ApiError(HTTPStatus.BAD_REQUEST, f"The lora adapter '{name}' conflicts with a served base model.")
        if not (Path(path) / "adapter_config.json").is_file():
            raise ApiError(HTTPStatus.NOT_FOUND, f"Loading lora {name} failed: No adapter found for {path}")
        with self._lock:
            self.requests["load_lora_adapter"] += 1
            known = self._adapters.get(name)
            if known is not None and known.path != path:
                raise ApiError(HTTPStatus.BAD_REQUEST, f"The lora adapter '{name}' has already been loaded.")
            self._adapters[name] = Adapter(name, path)
        log.info("lora_registered", lora_name=name, path=path)
        return f"Success: LoRA adapter '{name}' added successfully."

    def chat_completion(self, body: dict[str, Any]) -> dict[str, Any]:
        model = body.get("model")
        messages = _messages(body.get("messages"))
        n = _number(body, "n", int, 1, minimum=1)
        temperature = _number(body, "temperature", float, 1.0, minimum=0)
        max_tokens = _number(body, "max_completion_tokens", int, None, minimum=1)
        if max_tokens is None:
            max_tokens = _number(body, "max_tokens", int, 16, minimum=1)
        seed = _number(body, "seed", int, None)
        top_logprobs = _number(body, "top_logprobs", int, 0, minimum=0)
        with self._lock:
            self.requests["chat_completions"] += 1
            adapter = self._adapter(model)
            logprobs = self._logprobs(messages, adapter, top_logprobs) if body.get("logprobs") else None
            if logprobs is not None and max_tokens == 1 and temperature == 0:
                # What next-token-probability requests ask for: the greedy token is the top one, no second pass.
                texts = [logprobs["content"][0]["token"]] * n
            else:
                request = SampleRequest(messages, adapter, n=n, temperature=temperature, max_tokens=max_tokens,
                                        seed=random.randrange(2**63) if seed is None else seed)
                texts = self.engine.sample([request])[0]
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
            "model": model,
            "choices": [{"index": i, "message": {"role": "assistant", "content": text}, "logprobs": logprobs,
                         "finish_reason": None} for i, text in enumerate(texts)],
        }

    def _adapter(self, model: object) -> Adapter | None:
        if model == self.served_name:
            return None
        if isinstance(model, str) and model in self._adapters:
            return self._adapters[model]
        raise ApiError(HTTPStatus.NOT_FOUND, f"The model `{model}` does not exist.", "model", "model_not_found")

    def _logprobs(self, messages: Messages, adapter: Adapter | None, top_k: int) -> dict[str, Any]:
        """The first position's top-k in OpenAI's shape; its most likely token stands as the chosen one."""
        probs = self.engine.next_token_probs([ChoiceRequest(messages, adapter)], top_k=max(1, top_k))[0]
        ranked = [{"token": token, "logprob": math.log(p) if p > 0 else _LOG_ZERO, "bytes": list(token.encode())}
                  for token, p in sorted(probs.items(), key=lambda item: -item[1])]
        return {"content": [{**ranked[0], "top_logprobs": ranked[:top_k]}]}


class _Handler(BaseHTTPRequestHandler):
    server: CompletionServer
    protocol_version = "HTTP/1.1"  # keep-alive: the engine's client reuses its connections

    def do_GET(self) -> None:
        models = self.server.models
        self._dispatch({"/v1/models": models.models, "/v1/stats": models.stats})

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))  # always read: the connection lives on
        models = self.server.models
        self._dispatch({"/v1/chat/completions": lambda: models.chat_completion(_json(raw)),
                        "/v1/load_lora_adapter": lambda: models.load_lora_adapter(_json(raw))})

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http_request", line=format % args)

    def _dispatch(self, routes: dict[str, Callable[[], dict[str, Any] | str]]) -> None:
        """Run the route and send its result: JSON for dicts, text for strings, OpenAI's error JSON on errors."""
        path = self.path.split("?", 1)[0].rstrip("/")
        try:
            if path not in routes:
                raise ApiError(HTTPStatus.NOT_FOUND, f"no route {self.command} {path}")
            result, status = routes[path](), HTTPStatus.OK
        except ApiError as error:
            result, status = error.body(), error.status
        except Exception as error:  # an engine failure or a bug: the client sees a 500 and may retry
            log.exception("openai_server_error", path=path)
            status = HTTPStatus.INTERNAL_SERVER_ERROR
            result = ApiError(status, f"{type(error).__name__}: {error}").body()
        is_text = isinstance(result, str)
        data = (result if isinstance(result, str) else json.dumps(result)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8" if is_text else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class CompletionServer(ThreadingHTTPServer):
    """The HTTP server; `models` holds the engine and the loaded adapters."""

    def __init__(self, address: tuple[str, int], models: ServedModels) -> None:
        super().__init__(address, _Handler)
        self.models = models


def _json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"{}")
    except json.JSONDecodeError as error:
        raise ApiError(HTTPStatus.BAD_REQUEST, f"the body is not JSON: {error}") from None
    if not isinstance(body, dict):
        raise ApiError(HTTPStatus.BAD_REQUEST, "the body must be a JSON object")
    return body


def _messages(value: object) -> Messages:
    if not isinstance(value, list) or not value:
        raise ApiError(HTTPStatus.BAD_REQUEST, "messages: must be a non-empty list", "messages")
    messages = []
    for message in value:
        if not (isinstance(message, dict) and isinstance(message.get("role"), str)
                and isinstance(message.get("content"), str)):
            raise ApiError(HTTPStatus.BAD_REQUEST, "messages: each needs a string role and string content",
                           "messages")
        messages.append({"role": message["role"], "content": message["content"]})
    return tuple(messages)


def _number(body: dict[str, Any], field: str, kind: type, default: Any, minimum: float | None = None) -> Any:
    value = body.get(field)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or (kind is int and not isinstance(value, int)):
        raise ApiError(HTTPStatus.BAD_REQUEST, f"{field}: must be a{'n integer' if kind is int else ' number'}",
                       field)
    if minimum is not None and value < minimum:
        raise ApiError(HTTPStatus.BAD_REQUEST, f"{field}: must be at least {minimum}", field)
    return kind(value)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True,
                        help="a transformers model directory, or a hub id (HuggingFaceTB/SmolLM2-135M-Instruct "
                             "resolves offline to the packaged copy, as the trainer does)")
    parser.add_argument("--data-dir", type=Path, default=Path("~/.cache/selfaware"),
                        help="cache for converted models (as the services' SELFAWARE_DATA_DIR)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on stdout)")
    parser.add_argument("--served-name", default=None, help="the base model's name in requests (default: --model)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    configure_logging("openai-server", args.log_level)
    is_dir = Path(args.model).expanduser().is_dir()
    base = spec_pb2.BaseModel(path=args.model) if is_dir else spec_pb2.BaseModel(name=args.model)
    engine = HfEngine(resolve_base_model(base, args.data_dir.expanduser()), HfOptions(threads=args.threads))
    server = CompletionServer((args.host, args.port), ServedModels(engine, args.served_name or args.model))
    serve(server, engine.close)


if __name__ == "__main__":
    main()
