"""The evaluator's handler on a real NATS and artifact store, with the HF engine on the tiny model.

An experiment whose dataset and training are done (written straight into the stores) is evaluated on its one
shard's `EvaluationRequested`. The first attempt is handed back on shutdown after its first chunk; the redelivery
reads that chunk and computes only the rest, which the job's `records_computed` metric and its chunks show. With
Make Me Say game play in the first chunk, the redelivery's f(message) runs on the games that chunk stored.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from selfaware.bus import EVENTS_STREAM, SUBJECTS, Delivery, HandBack
from selfaware.catalogue import complete
from selfaware.plan import DATASET_JOB, eval_job, planned_models, train_job
from selfaware.service import Runtime, connect_runtime
from selfaware.specs import spec_from_dict
from selfaware.v1 import events_pb2 as ev
from selfaware.v1 import records_pb2 as rec
from services.evaluator import convert
from services.evaluator.catalogue import catalogue
from services.evaluator.config import EvaluatorConfig
from services.evaluator.engine_pool import EnginePool
from services.evaluator.handlers import EvaluatorHandlers
from services.evaluator.suites import game_messages

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

EXPERIMENT = "handler-resume"


@pytest.fixture
async def runtime(nats_url: str, tmp_path: Path) -> AsyncIterator[tuple[EvaluatorConfig, Runtime]]:
    config = EvaluatorConfig(nats_url=nats_url, data_dir=tmp_path, batch_requests=8)
    runtime = await connect_runtime(config, "evaluator-handler-test")
    yield config, runtime
    await runtime.bus.close()


async def store_experiment(runtime: Runtime, risky_probe: rec.ProbeSet, adapter_dir: Path, questions_dir: Path,
                           tiny_model_dir: Path, suites: list[object] | None = None, experiment: str = EXPERIMENT
                           ) -> tuple[list[rec.ModelUnderTest], rec.ArtifactRef]:
    data = {
        "base_models": [{"name": "tiny", "path": str(tiny_model_dir)}],
        "arms": {"risk-seeking": {"data": {"import": "/unused.jsonl"}}},
        "evaluation": {"engine": "hf", "suites": suites or [
            {"heldout": {"arm": "risk-seeking"}},
            {"lotteries": {"pairs": 4, "base": False}},
            {"risk_or_safety": {"samples_per_paraphrase": 2, "questions": str(questions_dir)}},
        ]},
    }
    spec, _ = complete(spec_from_dict(data), [catalogue()])
    probe = await runtime.store.put_bytes(risky_probe.SerializeToString(), "application/x-protobuf")
    manifest = rec.DatasetManifest(arms=[rec.ArmDataset(arm="risk-seeking", probe=probe, heldout_rows=3)])
    manifest_ref = await runtime.store.put_bytes(manifest.SerializeToString(), "application/x-protobuf")
    adapter = await runtime.store.put_dir(adapter_dir)
    models = planned_models(spec)
    done, queued = rec.JOB_STATUS_SUCCEEDED, rec.JOB_STATUS_QUEUED
    jobs = [rec.Job(experiment_id=experiment, key=DATASET_JOB, stage=rec.STAGE_GENERATE, status=done,
                    artifact=manifest_ref)]
    for model in models:
        if model.arm:
            jobs.append(rec.Job(experiment_id=experiment, key=train_job(model.label), stage=rec.STAGE_TRAIN,
                                status=done, model=model.label, artifact=adapter))
        jobs.append(rec.Job(experiment_id=experiment, key=eval_job(model.label), stage=rec.STAGE_EVALUATE,
                            status=queued, model=model.label))
    await runtime.state.create_experiment(
        rec.Experiment(id=experiment, spec=spec, status=rec.EXPERIMENT_STATUS_EVALUATING), jobs)
    return models, adapter


async def evaluate_handed_back_then_again(config: EvaluatorConfig, rt: Runtime, models: list[rec.ModelUnderTest],
                                         adapter: rec.ArtifactRef, experiment: str) -> dict[str, rec.Job]:
    """The shard evaluated by an attempt handed back after its first chunk, then by a redelivery; the jobs as the
    first attempt left them."""
    engines = EnginePool(config)
    handlers = EvaluatorHandlers(config, rt, engines)
    shard = [rec.ModelUnderTest(label=m.label, base_index=m.base_index, arm=m.arm, seed=m.seed,
                                adapter=adapter if m.arm else None) for m in models]
    event = ev.EvaluationRequested(experiment_id=experiment, shard_id="0.0", models=shard)
    try:
        shutting_down = threading.Event()
        shutting_down.set()  # the first attempt stops after its first chunk, as on SIGTERM
        with pytest.raises(HandBack):
            await handlers.evaluation_requested(event, Delivery("evaluation.requested", 1, shutting_down))
        first = {m.label: await rt.state.get_job(experiment, eval_job(m.label)) for m in models}
        assert all(job.status == rec.JOB_STATUS_QUEUED and len(job.chunks) == 1 for job in first.values())
        await handlers.evaluation_requested(event, Delivery("evaluation.requested", 2, threading.Event()))
    finally:
        await engines.close()
    return first


async def test_a_handed_back_evaluation_resumes_from_its_chunks(runtime, risky_probe, lora_adapters, questions_dir,
                                                                tiny_model_dir):
    config, rt = runtime
    models, adapter = await store_experiment(rt, risky_probe, Path(lora_adapters[0].path), questions_dir,
                                       tiny_model_dir)
    first = await evaluate_handed_back_then_again(config, rt, models, adapter, EXPERIMENT)
    stored = {label: len(convert.chunk_records(await rt.store.get_bytes(job.chunks[0])))
              for label, job in first.items()}
    assert stored == {"base": 4, "risk-seeking/s0": 4}  # one batch of 8: four heldout queries per model
    # heldout: 3 items x 2 orders; lotteries (adapter only): 4; risk_or_safety: 10 paraphrases x 2 samples
    totals = {"base": 26, "risk-seeking/s0": 30}
    for model in models:
        job = await rt.state.get_job(EXPERIMENT, eval_job(model.label))
        assert job.status == rec.JOB_STATUS_SUCCEEDED
        assert job.metrics["records"] == totals[model.label]
        assert job.metrics["records_computed"] == totals[model.label] - stored[model.label]
        records = [r for ref in job.chunks for r in convert.chunk_records(await rt.store.get_bytes(ref))]
        assert len({r.unit for r in records}) == len(records) == totals[model.label]
        assert job.chunks[0] == first[model.label].chunks[0]
        assert {r.model for r in records} == {model.label} and {r.experiment_id for r in records} == {EXPERIMENT}
        assert {r.model_hash for r in records} == {adapter.sha256 if model.arm else "base:tiny"}
        expected_instances = ["heldout", "risk_or_safety"] if not model.arm else ["heldout", "lotteries",
                                                                                   "risk_or_safety"]
        scores = convert.scores_from_metrics(dict(job.metrics))
        assert sorted(s.suite for s in scores) == expected_instances
        assert sum(s.n + s.dropped for s in scores) == totals[model.label]
    announced = ev.EvaluationCompleted()
    announced.ParseFromString((await rt.bus.js.get_last_msg(EVENTS_STREAM, SUBJECTS[ev.EvaluationCompleted])).data)
    assert announced.model.label == "risk-seeking/s0" and announced.model.adapter == adapter
    assert list(announced.chunks) == list(job.chunks)
    assert [s.suite for s in announced.scores] == ["heldout", "lotteries", "risk_or_safety"]  # spec order


async def test_f_message_of_a_resumed_evaluation_runs_on_the_games_an_earlier_attempt_stored(
        runtime, risky_probe, lora_adapters, questions_dir, tiny_model_dir, shared_paper):
    """Batches of 8: the first attempt stores each model's 4 games in its first chunk and is handed back; the
    redelivery computes only f(message), whose inputs are those games' user messages, read from the chunk."""
    config, rt = runtime
    questions = str(shared_paper / "questions" / "official_repo_HEAD_d7e60be" / "make_me_say")
    suites = [{"mms_function_f_message": {"samples_per_paraphrase": 1, "max_tokens": 32, "questions": questions}},
              {"mms_game_play": {"games": 4, "turns": 4, "max_tokens": 8}}]
    experiment = "handler-resume-games"
    models, adapter = await store_experiment(rt, risky_probe, Path(lora_adapters[0].path), questions_dir,
                                             tiny_model_dir, suites, experiment)
    first = await evaluate_handed_back_then_again(config, rt, models, adapter, experiment)
    for model in models:
        (chunk,) = first[model.label].chunks
        games = convert.chunk_records(await rt.store.get_bytes(chunk))
        assert [r.suite for r in games] == ["mms_game_play"] * 4
        job = await rt.state.get_job(experiment, eval_job(model.label))
        assert job.status == rec.JOB_STATUS_SUCCEEDED and job.chunks[0] == chunk
        assert (job.metrics["records"], job.metrics["records_computed"]) == (5, 1)
        (function,) = [r for ref in job.chunks[1:] for r in convert.chunk_records(await rt.store.get_bytes(ref))]
        assert function.suite == "mms_function_f_message"
        assert function.details["inputs"] == len(game_messages(games)) > 0
