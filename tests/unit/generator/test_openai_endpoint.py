"""`selfaware.openai_endpoint` against a scripted chat server on loopback: options from a spec endpoint, the key,
retries, refusals and the concurrency bound."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfaware.openai_endpoint import EndpointOptions, EndpointRefused, EndpointUnavailable, OpenAIEndpoint
from selfaware.v1 import spec_pb2

from .scripted_chat_server import ErrorReply, ScriptedChat, serve

HELLO = [{"role": "user", "content": "hello"}]


def _echo(body: dict) -> str:
    return f"{body['model']}:{body['messages'][-1]['content']}"


def _endpoint(url: str, **options: object) -> OpenAIEndpoint:
    return OpenAIEndpoint(EndpointOptions(url, "m", **{"backoff_s": 0.01, **options}))  # type: ignore[arg-type]


def test_options_come_from_the_spec_endpoint_with_defaults_for_unset_fields() -> None:
    endpoint = spec_pb2.Endpoint(name="e", base_url="http://h:1/v1", model="gpt", api_key_file="/k",
                                 max_concurrency=3)
    options = EndpointOptions.from_spec(endpoint, backoff_s=0.5)
    assert (options.model, options.api_key_file, options.max_concurrency, options.backoff_s) == ("gpt", "/k", 3, 0.5)
    assert (options.api_key_env, options.timeout_s, options.max_retries) == ("OPENAI_API_KEY", 60.0, 5)
    with pytest.raises(ValueError, match="^model: "):
        EndpointOptions.from_spec(spec_pb2.Endpoint(name="e", base_url="http://h:1/v1"))
    with pytest.raises(ValueError, match="^base_url: "):
        EndpointOptions.from_spec(spec_pb2.Endpoint(name="e", base_url="ftp://h", model="m"))


def test_calls_run_concurrently_in_order_within_the_bound(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("sekret\n")
    chat = ScriptedChat(_echo, delay_s=0.05)
    with serve(chat) as url, _endpoint(url, max_concurrency=3, api_key_file=str(key)) as endpoint:
        texts = endpoint.run([endpoint.text([{"role": "user", "content": str(i)}]) for i in range(9)])
    assert texts == [f"m:{i}" for i in range(9)]
    assert chat.peak == 3
    assert {h["authorization"] for h in chat.headers} == {"Bearer sekret"}


def test_rate_limits_and_server_errors_are_retried() -> None:
    chat = ScriptedChat(_echo)
    chat.errors = [ErrorReply(429, {"Retry-After": "0"}), ErrorReply(503), ErrorReply(500)]
    with serve(chat) as url, _endpoint(url, max_retries=3) as endpoint:
        assert endpoint.run([endpoint.text(HELLO)]) == ["m:hello"]
    assert len(chat.bodies) == 4


def test_it_gives_up_after_the_retries_and_refuses_at_once_on_other_4xx() -> None:
    chat = ScriptedChat(_echo)
    chat.errors = [ErrorReply(500)] * 3
    with serve(chat) as url, _endpoint(url, max_retries=2) as endpoint:
        with pytest.raises(EndpointUnavailable, match="still failing after 3 attempts"):
            endpoint.run([endpoint.text(HELLO)])
        chat.errors = [ErrorReply(400)]
        with pytest.raises(EndpointRefused, match="HTTP 400") as refused:
            endpoint.run([endpoint.text(HELLO)])
        assert refused.value.status == 400
        chat.errors = [ErrorReply(401)]
        with pytest.raises(EndpointRefused, match=r"the key comes from \$OPENAI_API_KEY"):
            endpoint.run([endpoint.text(HELLO)])
    assert len(chat.bodies) == 5
