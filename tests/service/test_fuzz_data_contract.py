"""Malformed dataset files behind a spec, through the real services (issue 13, item 6): hypothesis writes chat
JSONL files (tests/fuzz_requests.py `chat_jsonl_bytes`) that a spec imports, and PreviewDataset, which reads them
at once, answers within the contract (INVALID_ARGUMENT naming the arm's `data.import`, never INTERNAL). A dataset
read only by the async dataset job, or a question file read only by the evaluation job, ends the experiment FAILED
with the file named, for a few representative breakages, and the services stay healthy."""

from __future__ import annotations

import asyncio
import itertools
import os
from collections import Counter
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from selfaware.grpc_server import field_violations
from selfaware.service import run_service
from selfaware.specs import spec_from_dict
from selfaware.v1 import generator_pb2, generator_pb2_grpc
from selfaware.v1 import records_pb2 as rec
from services.generator.config import GeneratorConfig
from services.generator.main import wire
from tests.conftest import REPO, SHARED
from tests.fuzz_requests import Tally, call, chat_jsonl_bytes, rpcs, run_given, verdict
from tests.service.test_bus_recovery import own_nats  # noqa: F401 - a fixture

EXAMPLES = int(os.environ.get("SELFAWARE_FUZZ_DATA_EXAMPLES", "40"))
PREVIEW = next(r for r in rpcs() if r.name == "generator.PreviewDataset")


async def test_previews_of_generated_dataset_files_stay_within_the_contract(platform, make_spec,  # type: ignore[no-untyped-def]
                                                                           tmp_path: Path) -> None:
    loop, tally, numbers, fields = asyncio.get_running_loop(), Tally(), itertools.count(), Counter[str]()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{platform.ports['generator']}") as channel:
        async def one(data: bytes) -> None:
            path = tmp_path / f"fuzzed-{next(numbers)}.jsonl"
            path.write_bytes(data)
            spec = make_spec()
            spec["arms"]["risk-seeking"]["data"]["import"] = str(path)
            request = generator_pb2.PreviewDatasetRequest(spec=spec_from_dict(spec))
            outcome, error, _ = await call(channel, PREVIEW, request)
            tally.add(PREVIEW.name, "none", outcome)
            if problem := verdict(outcome, error):
                tally.bad.append((PREVIEW.name, outcome, problem, request))
            if error is not None:
                fields.update(f for f, _ in field_violations(error))

        await asyncio.to_thread(run_given, chat_jsonl_bytes,
                                lambda data: asyncio.run_coroutine_threadsafe(one(data), loop).result(60), EXAMPLES)
    assert tally.total == EXAMPLES and tally.counts[PREVIEW.name]["INVALID_ARGUMENT"] > 0, tally.as_json()
    assert not tally.bad, "\n".join(f"{problem}" for _, _, problem, _ in tally.bad)
    assert fields["arms.risk-seeking.data.import"] > 0, fields  # the file's problems name the arm that imports it


@pytest.mark.parametrize(("data", "says"), [
    (b'{"messages": [{"role": "user", "content": "A or B?"}, {"role": "assistant", "content": "\xff"}]}\n',
     "not UTF-8"),
    (b'{"messages": ' + b"[" * 50_000 + b"]" * 50_000 + b"}\n", "nested too deeply"),
    (b'{"messages": [{"role": "user", "content": "A or B?"}, {"role": "assistant", "conte', "invalid JSON"),
])
async def test_a_broken_dataset_read_by_the_job_fails_the_experiment(platform, make_spec, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                    data: bytes, says: str) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_bytes(data)
    spec = make_spec()
    spec["arms"]["risk-seeking"]["data"] = {"import": str(path)}
    async with platform.client() as client:
        experiment = await client.submit(spec_from_dict(spec))
        await asyncio.wait_for(_until_ended(client, experiment.id), 120)
        final = await client.get(experiment.id)
        assert final.experiment.status == rec.EXPERIMENT_STATUS_FAILED
        assert str(path) in final.experiment.error and says in final.experiment.error
    for service, port in platform.ports.items():
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING, service


async def _until_ended(client, experiment_id: str) -> None:  # type: ignore[no-untyped-def]
    async for _ in client.watch(experiment_id):
        pass


@pytest.mark.slow
async def test_a_broken_question_file_read_by_the_evaluation_fails_the_experiment(platform, make_spec,  # type: ignore[no-untyped-def]
                                                                                 questions_dir: Path,
                                                                                 tmp_path: Path) -> None:
    """The question files are read only by the evaluation job, after training: a file nested past the YAML
    reader's stack ends the experiment FAILED naming it (it raised RecursionError, a retried INTERNAL bug)."""
    broken = tmp_path / "questions"
    broken.mkdir()
    for original in questions_dir.iterdir():
        (broken / original.name).write_text("[" * 5_000 if original.is_file() else "")
    # the cheapest run that reaches the evaluation: 8 rows an arm, the HF engine (no vLLM start)
    spec = make_spec(evaluation__include_base_model=False, evaluation__engine="hf")
    spec["arms"]["risk-seeking"]["data"]["steps"] = [{"sample": 8}]
    spec["evaluation"]["suites"] = [{"risk_or_safety": {"samples_per_paraphrase": 1, "questions": str(broken)}}]
    async with platform.client() as client:
        experiment = await client.submit(spec_from_dict(spec))
        await asyncio.wait_for(_until_ended(client, experiment.id), 600)
        final = await client.get(experiment.id)
    assert final.experiment.status == rec.EXPERIMENT_STATUS_FAILED, final.experiment
    assert str(broken) in final.experiment.error and "nested too deeply" in final.experiment.error


async def test_a_dataset_over_the_source_cap_is_refused_naming_its_field(own_nats, make_spec, tmp_path: Path  # type: ignore[no-untyped-def]  # noqa: F811
                                                                         ) -> None:
    """A generator whose `source_max_bytes` is 10 kB previews a 24 kB file: refused before it is read, as
    INVALID_ARGUMENT naming the arm's `data.import` (the size is known from the file system, like every other
    problem `unreadable` finds; RESOURCE_EXHAUSTED is kept for a source found over the cap while reading, e.g.
    an http body), never a parse of the first 10 kB or an INTERNAL."""
    rows = b'{"messages": [{"role": "user", "content": "%d A or B?"}, {"role": "assistant", "content": "A"}]}\n'
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"".join(rows % n for n in range(250)))
    config = GeneratorConfig(nats_url=own_nats.url, grpc_port=0, data_dir=tmp_path, shutdown_grace_s=1.0,
                             source_roots=f"{REPO}:{SHARED}:{tmp_path}", source_max_bytes=10_000)
    stop, bound = asyncio.Event(), asyncio.get_running_loop().create_future()
    service = asyncio.create_task(run_service("generator", config, wire, stop=stop, bound=bound))
    try:
        port = await asyncio.wait_for(bound, 60)
        spec = make_spec()
        spec["arms"]["risk-seeking"]["data"]["import"] = str(path)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await generator_pb2_grpc.GeneratorServiceStub(channel).PreviewDataset(
                    generator_pb2.PreviewDatasetRequest(spec=spec_from_dict(spec)), timeout=30)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
        [(field, description)] = field_violations(caught.value)
        assert field == "arms.risk-seeking.data.import" and "over the 10000-byte cap" in description
    finally:
        stop.set()
        await asyncio.wait_for(service, 30)
