"""The `openai` engine against a scripted stdlib HTTP server on loopback: retries, refusals, concurrency, adapters.

The server is real HTTP (the engine's real client talks to it); only its answers are scripted.
"""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from selfaware.errors import DataError, PermanentError
from selfaware.openai_endpoint import EndpointOptions, EndpointRefused, EndpointUnavailable
from services.evaluator.engines import Adapter, ChoiceRequest, SampleRequest, build_engine
from services.evaluator.engines.openai_engine import (
    LogprobsUnavailable,
    LoraLoadingUnsupported,
    OpenAIEngine,
    lora_name,
)

PROMPT = ({"role": "user", "content": "A or B?"},)
CHAT = "/v1/chat/completions"
LOAD = "/v1/load_lora_adapter"


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass
class Seen:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]


class ScriptedEndpoint:
    """Answers each route from its script first, then validly; records every request and the peak in flight."""

    def __init__(self) -> None:
        self.scripts: dict[str, list[Reply]] = defaultdict(list)
        self.seen: list[Seen] = []
        #: The most choices one answer holds (a server that ignores large `n`), None for all.
        self.max_choices: int | None = None
        self.logprobs = True
        self.delay_s = 0.0
        self.in_flight = self.peak = 0
        self._lock = threading.Lock()

    def handle(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> Reply:
        with self._lock:
            self.seen.append(Seen(path, body, headers))
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            reply = self.scripts[path].pop(0) if self.scripts[path] else self._valid(path, body)
        time.sleep(reply.delay_s or self.delay_s)
        with self._lock:
            self.in_flight -= 1
        return reply

    def chat(self) -> list[Seen]:
        return [seen for seen in self.seen if seen.path == CHAT]

    def _valid(self, path: str, body: dict[str, Any]) -> Reply:
        if path == LOAD:
            return Reply(200, f"Success: LoRA adapter '{body['lora_name']}' added successfully.")
        n = min(body.get("n") or 1, self.max_choices or math.inf)
        logprobs = None
        if self.logprobs and body.get("logprobs"):
            top = [{"token": "A", "logprob": math.log(0.75), "bytes": None},
                   {"token": "B", "logprob": math.log(0.25), "bytes": None}]
            logprobs = {"content": [{**top[0], "top_logprobs": top[: body["top_logprobs"]]}]}
        texts = [f"{body['model']}/{body.get('seed')}/{i}" for i in range(int(n))]
        choices = [{"index": i, "message": {"role": "assistant", "content": text}, "logprobs": logprobs,
                    "finish_reason": "stop"} for i, text in enumerate(texts)]
        return Reply(200, {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                           "choices": choices})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    endpoint: ScriptedEndpoint

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        reply = self.endpoint.handle(self.path, body, {k.lower(): v for k, v in self.headers.items()})
        data = (reply.body if isinstance(reply.body, str) else json.dumps(reply.body)).encode()
        self.send_response(reply.status)
        for name, value in {"Content-Type": "application/json", **reply.headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[tuple[ScriptedEndpoint, str]]:
    scripted = ScriptedEndpoint()
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Handler,), {"endpoint": scripted}))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield scripted, f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture
def connect(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """`connect(base_url, **options)` builds an engine with tiny backoffs and closes it after the test."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    engines: list[OpenAIEngine] = []

    def build(base_url: str, **options: Any) -> OpenAIEngine:
        engine = OpenAIEngine(EndpointOptions(**{"base_url": base_url, "model": "base", "backoff_s": 0.001,
                                               **options}))
        engines.append(engine)
        return engine

    yield build
    for engine in engines:
        engine.close()


def error(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}


def test_429_then_500_are_retried_until_the_answer(endpoint, connect):
    scripted, url = endpoint
    scripted.scripts[CHAT] = [Reply(429, error("slow down"), {"Retry-After": "0"}), Reply(500, error("oops"))]
    [probs] = connect(url).next_token_probs([ChoiceRequest(PROMPT)], top_k=2)
    assert probs == pytest.approx({"A": 0.75, "B": 0.25})
    assert len(scripted.chat()) == 3
    assert all(seen.body["max_tokens"] == 1 and seen.body["temperature"] == 0 and seen.body["logprobs"]
               and seen.body["top_logprobs"] == 2 and seen.body["model"] == "base" for seen in scripted.chat())


def test_retry_after_takes_precedence_over_the_backoff(endpoint, connect):
    scripted, url = endpoint
    scripted.scripts[CHAT] = [Reply(429, error("slow down"), {"Retry-After": "0"})] * 2
    started = time.monotonic()
    connect(url, backoff_s=20.0).next_token_probs([ChoiceRequest(PROMPT)])
    assert time.monotonic() - started < 5 and len(scripted.chat()) == 3


def test_timeouts_are_retried(endpoint, connect):
    scripted, url = endpoint
    scripted.scripts[CHAT] = [Reply(200, error("never seen"), delay_s=1.0)]
    assert connect(url, timeout_s=0.2).next_token_probs([ChoiceRequest(PROMPT)])[0]["A"] == pytest.approx(0.75)
    assert len(scripted.chat()) == 2


def test_retries_run_out_with_a_transient_error(endpoint, connect):
    scripted, url = endpoint
    scripted.scripts[CHAT] = [Reply(503, error("overloaded"))] * 3
    with pytest.raises(EndpointUnavailable, match=r"still failing after 3 attempts: HTTP 503: overloaded") as caught:
        connect(url, max_retries=2).next_token_probs([ChoiceRequest(PROMPT)])
    assert not isinstance(caught.value, PermanentError)  # the event bus may redeliver later
    assert len(scripted.chat()) == 3


def test_connection_errors_are_retried_then_reported(connect):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(EndpointUnavailable, match=rf"127.0.0.1:{port}/v1 \(model 'base'\) still failing after 2"):
        connect(f"http://127.0.0.1:{port}/v1", max_retries=1).sample(
            [SampleRequest(PROMPT, None, n=1, temperature=1.0, max_tokens=2, seed=0)])


def test_a_400_fails_at_once_naming_endpoint_and_model(endpoint, connect):
    scripted, url = endpoint
    scripted.scripts[CHAT] = [Reply(400, error("top_logprobs must be at most 20"))]
    with pytest.raises(EndpointRefused) as caught:
        connect(url).next_token_probs([ChoiceRequest(PROMPT)], top_k=50)
    assert str(caught.value) == f"{url} (model 'base'): HTTP 400: top_logprobs must be at most 20"
    assert caught.value.status == 400 and isinstance(caught.value, PermanentError)
    assert len(scripted.chat()) == 1


def test_no_logprobs_is_a_clear_data_error(endpoint, connect):
    scripted, url = endpoint
    scripted.logprobs = False
    with pytest.raises(LogprobsUnavailable, match="does not offer top-k logprobs.*next-token-probability suites"):
        connect(url).next_token_probs([ChoiceRequest(PROMPT)])
    assert issubclass(LogprobsUnavailable, DataError)


def test_requests_in_flight_never_exceed_max_concurrency(endpoint, connect):
    scripted, url = endpoint
    scripted.delay_s = 0.05
    results = connect(url, max_concurrency=3).next_token_probs([ChoiceRequest(PROMPT)] * 12)
    assert len(results) == 12 and len(scripted.chat()) == 12
    assert 2 <= scripted.peak <= 3


def test_samples_are_topped_up_with_derived_seeds_in_order(endpoint, connect):
    scripted, url = endpoint
    scripted.max_choices = 2
    engine = connect(url)
    request = SampleRequest(PROMPT, None, n=5, temperature=0.7, max_tokens=3, seed=11)
    samples = engine.sample([request])[0]
    asked = [(seen.body["n"], seen.body["seed"]) for seen in scripted.chat()]
    assert [n for n, _ in asked] == [5, 3, 1] and asked[0][1] == 11 and len({seed for _, seed in asked}) == 3
    assert samples == [f"base/{seed}/{i}" for n, seed in asked for i in range(min(n, 2))][:5]
    assert engine.sample([request])[0] == samples  # the seeds are derived, not drawn
    body = scripted.chat()[0].body
    assert (body["temperature"], body["max_tokens"]) == (0.7, 3)


def test_adapters_are_loaded_once_then_asked_by_their_served_name(endpoint, connect):
    scripted, url = endpoint
    hashed = Adapter("risky", "/adapters/one", sha256="ab" * 32)
    plain = Adapter("risky seed/1", "/adapters/two")
    engine = connect(url)
    engine.next_token_probs([ChoiceRequest(PROMPT, hashed), ChoiceRequest(PROMPT, plain), ChoiceRequest(PROMPT)])
    engine.sample([SampleRequest(PROMPT, hashed, n=2, temperature=1.0, max_tokens=2, seed=0)])
    loads = [seen.body for seen in scripted.seen if seen.path == LOAD]
    assert sorted(load["lora_name"] for load in loads) == sorted([lora_name(hashed), lora_name(plain)])
    assert lora_name(hashed) == "sa-" + "ab" * 8 and lora_name(plain).startswith("sa-risky-seed-1-")
    assert lora_name(Adapter("risky seed/1", "/adapters/three")) != lora_name(plain)  # a new path is a new model
    assert {load["lora_path"] for load in loads} == {"/adapters/one", "/adapters/two"}
    assert sorted(seen.body["model"] for seen in scripted.chat()) == sorted(
        [lora_name(hashed), lora_name(plain), "base", lora_name(hashed)])


def test_a_hosted_fine_tune_is_asked_by_its_model_id_and_never_loaded(endpoint, connect):
    scripted, url = endpoint
    hosted = Adapter("risky/s0", "", served_name="ft:base:risky-s0:abc123")
    engine = connect(url)
    engine.next_token_probs([ChoiceRequest(PROMPT, hosted)])
    (texts,) = engine.sample([SampleRequest(PROMPT, hosted, n=2, temperature=1.0, max_tokens=2, seed=0)])
    assert not [seen for seen in scripted.seen if seen.path == LOAD]
    assert [seen.body["model"] for seen in scripted.chat()] == ["ft:base:risky-s0:abc123"] * 2
    assert all(text.startswith("ft:base:risky-s0:abc123/") for text in texts)


def test_an_adapter_loaded_before_is_not_an_error(endpoint, connect):
    scripted, url = endpoint
    scripted.scripts[LOAD] = [Reply(400, error("The lora adapter 'x' has already been loaded."))]
    engine = connect(url)
    assert engine.next_token_probs([ChoiceRequest(PROMPT, Adapter("a", "/a", sha256="cd" * 32))])
    assert scripted.chat()[0].body["model"] == "sa-" + "cd" * 8


def test_an_endpoint_without_runtime_lora_says_how_to_enable_it(endpoint, connect):
    scripted, url = endpoint
    scripted.scripts[LOAD] = [Reply(404, {"detail": "Not Found"})]
    with pytest.raises(LoraLoadingUnsupported, match="cannot load LoRA adapters at run time.*"
                                                     "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True and --enable-lora"):
        connect(url).next_token_probs([ChoiceRequest(PROMPT, Adapter("a", "/a"))])
    assert scripted.chat() == []


def test_the_key_comes_from_the_file_then_the_environment_then_empty(endpoint, connect, tmp_path, monkeypatch):
    scripted, url = endpoint
    key_file = tmp_path / "key"
    key_file.write_text("from-file\n")
    monkeypatch.setenv("MY_KEY", "from-env")
    connect(url, api_key_env="MY_KEY", api_key_file=str(key_file)).next_token_probs([ChoiceRequest(PROMPT)])
    connect(url, api_key_env="MY_KEY").next_token_probs([ChoiceRequest(PROMPT)])
    connect(url, api_key_env="UNSET_KEY").next_token_probs([ChoiceRequest(PROMPT)])
    assert [seen.headers["authorization"] for seen in scripted.chat()] == [
        "Bearer from-file", "Bearer from-env", "Bearer EMPTY"]
    with pytest.raises(ValueError, match="api_key_file: cannot read"):
        connect(url, api_key_file=str(tmp_path / "missing"))


def test_options_are_validated_and_the_key_is_never_an_option(endpoint):
    with pytest.raises(ValueError, match="base_url: required"):
        build_engine("openai", "/models/base")
    with pytest.raises(ValueError, match="base_url: must be an http"):
        EndpointOptions(base_url="localhost:8000", model="m")
    with pytest.raises(ValueError, match="max_concurrency"):
        EndpointOptions(base_url="http://h/v1", model="m", max_concurrency=0)
    with pytest.raises(ValueError, match="api_key: the key is never an option"):
        build_engine("openai", "/models/base", base_url="http://h/v1", api_key="sk-secret")
    scripted, url = endpoint
    engine = build_engine("openai", "/models/base", base_url=url, backoff_s=0.001)
    try:
        engine.next_token_probs([ChoiceRequest(PROMPT)])
    finally:
        engine.close()
    assert scripted.chat()[0].body["model"] == "/models/base"  # the resolved base model is the served name


def test_a_401_says_where_the_key_came_from(endpoint, connect):
    scripted, url = endpoint
    scripted.scripts[CHAT] = [Reply(401, error("Incorrect API key provided"))]
    with pytest.raises(EndpointRefused, match=r"HTTP 401: Incorrect API key provided \(the key comes from "
                                              r"\$OPENAI_API_KEY\)"):
        connect(url).next_token_probs([ChoiceRequest(PROMPT)])
    assert len(scripted.chat()) == 1
