"""The generator service's PreviewDataset over real gRPC for `model-written` arms and the `answer` step, against
a scripted chat server on loopback: the spec's endpoints reach the generator, and bad ones are INVALID_ARGUMENT
with the field named."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from selfaware.grpc_server import field_violations
from selfaware.specs import spec_from_dict
from selfaware.v1 import generator_pb2, generator_pb2_grpc
from tests.unit.generator.scripted_chat_server import ScriptedChat, serve


def _answer(body: dict[str, Any]) -> str:
    """The writer writes a question naming its intended letter; the policy answerer agrees, the plain one
    always says B."""
    messages = body["messages"]
    text = messages[-1]["content"]
    if messages[0]["role"] == "system":
        return re.search(r"letter (A|B)", text).group(1)  # type: ignore[union-attr]
    if "random word" in text:
        word = re.search(r"random word: (.*)\.\n", text).group(1)  # type: ignore[union-attr]
        return f"About {word} (seed {body['seed']}): letter {re.search(r'labeled (A|B)', text).group(1)}."  # type: ignore[union-attr]
    return "B"


@pytest.fixture(scope="module")
def chat_url() -> Iterator[str]:
    with serve(ScriptedChat(_answer)) as url:
        yield url


def _spec(url: str, **endpoint: Any) -> dict[str, Any]:
    return {"endpoints": {"local": {"base_url": url, "model": "m", **endpoint}},
            "holdout": {"rows": 4},
            "arms": {"gen": {"data": {"generate": "model-written",
                                      "params": {"family": "apples", "writer": "local", "rows": 20}},
                             "family": "apples", "policy": "max-apples"},
                     "normal": {"data": {"of": "gen", "steps": [{"answer": "local"}]}, "family": "apples"}},
            "evaluation": {"suites": ["heldout"]}}


async def test_preview_writes_labels_and_relabels_through_the_spec_endpoint(platform, chat_url: str  # type: ignore[no-untyped-def]
                                                                            ) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{platform.ports['generator']}") as channel:
        stub = generator_pb2_grpc.GeneratorServiceStub(channel)
        preview = await stub.PreviewDataset(generator_pb2.PreviewDatasetRequest(spec=spec_from_dict(_spec(chat_url)),
                                                                                 limit=16))
    gen, normal = preview.arms
    assert (gen.train_rows, gen.heldout_rows) == (normal.train_rows, normal.heldout_rows) == (16, 4)
    assert gen.provenance.startswith("generate model-written(family=apples, rows=20, seed=0, writer=local")
    assert normal.provenance == "of gen, then steps: answer(endpoint=local, system_prompt=)"
    assert gen.stats["rows_with_messages.2"] == 16 and gen.stats["duplicate_rows"] == 0
    for written, relabelled in zip(gen.rows, normal.rows, strict=True):
        row, plain = json.loads(written), json.loads(relabelled)
        assert row["messages"][1]["content"] == re.search(r"letter (A|B)", row["messages"][0]["content"]).group(1)  # type: ignore[union-attr]
        assert plain["messages"] == [row["messages"][0], {"role": "assistant", "content": "B"}]


@pytest.mark.parametrize(("change", "field"), [
    ({"arms": {"gen": {"data": {"generate": "model-written", "params": {"writer": "elsewhere"}}}}},
     "arms.gen.data.params.writer"),
    ({"endpoints": {"local": {"base_url": "http://127.0.0.1:9/v1"}}}, "endpoints.local.model"),
])
async def test_bad_endpoints_are_invalid_arguments_naming_the_field(platform, chat_url: str,  # type: ignore[no-untyped-def]
                                                                   change: dict[str, Any], field: str) -> None:
    spec = _spec(chat_url)
    spec["arms"] = change.get("arms", spec["arms"]) | ({"normal": spec["arms"]["normal"]} if "arms" in change else {})
    spec["endpoints"] = change.get("endpoints", spec["endpoints"])
    async with grpc.aio.insecure_channel(f"127.0.0.1:{platform.ports['generator']}") as channel:
        stub = generator_pb2_grpc.GeneratorServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.PreviewDataset(generator_pb2.PreviewDatasetRequest(spec=spec_from_dict(spec)), timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
    assert field in dict(field_violations(caught.value)), caught.value.details()
