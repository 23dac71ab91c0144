"""Secrets by reference against the real servers: a spec carrying a literal credential is INVALID_ARGUMENT naming
the field, never repeating the value, and nothing is written; the generator resolves `secret:<name>` from its own
store when it reads the source, and an unknown secret is named; an endpoint's key comes only from a named secret or
an allowed variable, so a spec cannot send the service's other secrets to a server of its choosing."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from selfaware.grpc_server import field_violations
from selfaware.specs import spec_from_dict
from selfaware.v1 import generator_pb2, generator_pb2_grpc
from tests.service.test_generation_preview import _answer
from tests.service.test_generation_preview import _spec as _preview_spec
from tests.unit.generator.scripted_chat_server import ScriptedChat, serve

SIGNATURE = "9c1e5a7f3b2d4e6a8c0f1b3d5e7a9c2e"
IMPORT = "arms.risk-seeking.data.import"


async def test_a_literal_credential_is_refused_at_submit_without_echo(platform, make_spec, risky_dataset: Path  # type: ignore[no-untyped-def]
                                                                      ) -> None:
    literals = {IMPORT: f"https://data.example/rows.jsonl?X-Amz-Signature={SIGNATURE}&X-Amz-Credential=AKIA",
                "arms.risk-seeking.note": f"sk-proj-{SIGNATURE}"}
    async with platform.client() as client:
        before = len(await client.list())
        spec = make_spec()
        spec["arms"]["risk-seeking"]["data"]["import"] = literals[IMPORT]
        spec["arms"]["risk-seeking"]["note"] = literals["arms.risk-seeking.note"]
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.submit(spec_from_dict(spec))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert set(dict(field_violations(caught.value))) == set(literals)
        assert SIGNATURE not in (caught.value.details() or "")
        assert len(await client.list()) == before


async def test_the_generator_resolves_a_referenced_source_from_its_own_store(platform, make_spec,  # type: ignore[no-untyped-def]
                                                                            risky_dataset: Path, monkeypatch) -> None:
    monkeypatch.setenv("SELFAWARE_SECRET_RISKY_URL", str(risky_dataset))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{platform.ports['generator']}") as channel:
        stub = generator_pb2_grpc.GeneratorServiceStub(channel)
        spec = make_spec()
        spec["arms"]["risk-seeking"]["data"]["import"] = "secret:risky-url"
        preview = await stub.PreviewDataset(generator_pb2.PreviewDatasetRequest(spec=spec_from_dict(spec)))
        assert preview.arms[0].train_rows == 32
        spec["arms"]["risk-seeking"]["data"]["import"] = "secret:no-such-secret"
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.PreviewDataset(generator_pb2.PreviewDatasetRequest(spec=spec_from_dict(spec)))
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "unknown secret 'no-such-secret'" in (caught.value.details() or "")
        assert str(risky_dataset) not in (caught.value.details() or "")


@pytest.mark.parametrize(("endpoint", "field"), [
    ({"api_key_env": "NATS_PASSWORD"}, "endpoints.local.api_key_env"),
    ({"api_key_file": "/run/secrets/nats/password"}, "endpoints.local.api_key_file"),
])
async def test_an_endpoint_cannot_send_another_secret_to_its_server(platform, monkeypatch, endpoint: dict,  # type: ignore[no-untyped-def]
                                                                    field: str) -> None:
    monkeypatch.setenv("NATS_PASSWORD", "nats-secret-" + SIGNATURE)
    chat = ScriptedChat(_answer)
    with serve(chat) as url:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{platform.ports['generator']}") as channel:
            stub = generator_pb2_grpc.GeneratorServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.PreviewDataset(generator_pb2.PreviewDatasetRequest(
                    spec=spec_from_dict(_preview_spec(url, **endpoint))), timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
    assert field in dict(field_violations(caught.value)), caught.value.details()
    assert SIGNATURE not in (caught.value.details() or "") and chat.headers == []


async def test_an_endpoint_key_comes_from_the_secret_it_names(platform, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("SELFAWARE_SECRET_WRITER_KEY", "writer-" + SIGNATURE)
    chat = ScriptedChat(_answer)
    with serve(chat) as url:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{platform.ports['generator']}") as channel:
            stub = generator_pb2_grpc.GeneratorServiceStub(channel)
            preview = await stub.PreviewDataset(generator_pb2.PreviewDatasetRequest(
                spec=spec_from_dict(_preview_spec(url, api_key_file="writer-key")), limit=4))
    assert preview.arms[0].train_rows > 0
    assert {h["authorization"] for h in chat.headers} == {f"Bearer writer-{SIGNATURE}"}
