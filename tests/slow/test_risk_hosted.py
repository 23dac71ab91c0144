"""`examples/risk-hosted.yaml` end to end: the embedded local stack (nats-server and the four services as child
processes, as `selfaware run` starts them) trains both arms through the `openai-finetune` backend against the
trainer's fine-tuning façade and evaluates the fine-tuned models through the `openai` engine by their model ids,
the façade forwarding to the evaluator's inference server. Both servers are child processes on free ports.

The test reads the example file itself and changes only its sizes and addresses: the base model's local path
(the tiny model), the endpoint's URL (the started façade), 4 held-out and 8 training rows, 4 lottery pairs and
one sample per paraphrase. The backend, the engine, the endpoint, the epochs, batch size, multiplier, suffix,
seed and suites are the example's. This runs against the local façade, not a vendor.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import openai
import pytest
import structlog
import yaml

from selfaware.cli.stack import LocalStack
from selfaware.specs import resolve_paths, spec_from_dict
from selfaware.store import ArtifactStore
from selfaware.v1 import records_pb2 as rec
from tests.conftest import SHARED
from tests.slow.local_server import REPO, stop_server, url_of

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
log = structlog.get_logger(__name__)
EXAMPLE = REPO / "examples" / "risk-hosted.yaml"
INSTANCES = ["heldout", "lotteries", "risk_or_safety", "risk_predisposition_scale"]
ARMS = ("risk-seeking", "risk-averse")
HELD_OUT, TRAIN_ROWS, PAIRS = 4, 8, 4


@dataclass
class Outcome:
    """What the run left behind, read before anything was stopped."""

    example: dict[str, Any]
    experiment: rec.Experiment
    jobs: dict[str, rec.Job]
    report: dict[str, Any]
    #: eval job key -> its records
    records: dict[str, list[rec.EvalRecord]]
    #: the façade's jobs (its `GET /v1/fine_tuning/jobs`), and each one's checkpoints and events, oldest first
    facade_jobs: list[Any]
    facade_checkpoints: dict[str, list[Any]]
    facade_events: dict[str, list[Any]]
    #: the inference server's `GET /v1/models` ids: the base model and the adapters the façade loaded into it
    inference_models: list[str]
    seconds: float


def sized(example: dict[str, Any], model_dir: Path, facade_url: str) -> dict[str, Any]:
    """The example with smaller sizes, the local model and the started façade; nothing else changed."""
    spec = json.loads(json.dumps(example))
    spec["base_models"][0]["path"] = str(model_dir)
    (endpoint,) = spec["endpoints"].values()
    endpoint["base_url"] = facade_url
    spec["holdout"]["rows"] = HELD_OUT
    spec["arms"]["risk-seeking"]["data"]["steps"] = [{"sample": TRAIN_ROWS}]
    for suite in spec["evaluation"]["suites"]:
        params = next(iter(suite.values()))
        if "pairs" in params:
            params["pairs"] = PAIRS
        if "samples_per_paraphrase" in params:
            params["samples_per_paraphrase"] = 1
    return spec


def _server(argv: list[str]) -> subprocess.Popen[str]:
    """A child that binds port 0 and prints "listening on URL" once ready (`url_of` reads it)."""
    return subprocess.Popen([sys.executable, "-m", *argv, "--port", "0", "--threads", "1"], cwd=REPO,
                            stdout=subprocess.PIPE, text=True)


def _get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
async def outcome(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Outcome]:
    started = time.monotonic()
    root = tmp_path_factory.mktemp("hosted")
    example = yaml.safe_load(EXAMPLE.read_text())
    served = example["endpoints"][example["training"]["params"]["endpoint"]]["model"]
    # The inference server and the stack start together; the façade needs the server's URL.
    inference = _server(["services.evaluator.openai_server", "--model", str(tiny_model_dir), "--served-name", served,
                         "--data-dir", str(root / "models")])
    facade: subprocess.Popen[str] | None = None
    stack = LocalStack(root / "run")
    stack_up = asyncio.create_task(stack.start(root / "data", root / "nats", extra_env={
        "SELFAWARE_SOURCE_ROOTS": f"{REPO}:{SHARED}"}))
    try:
        inference_url = await asyncio.to_thread(url_of, inference)
        facade = _server(["services.trainer.facade", "--model", str(tiny_model_dir), "--served-name", served,
                          "--data-dir", str(root / "facade"), "--inference-url", inference_url])
        facade_url = await asyncio.to_thread(url_of, facade)
        await stack_up
        spec = spec_from_dict(sized(example, tiny_model_dir, facade_url))
        resolve_paths(spec, EXAMPLE.parent)
        async with stack.client() as client:
            submitted = await client.submit(spec, idempotency_key="risk-hosted")
            async for _ in client.watch(submitted.id):
                pass  # the stream ends once the experiment has
            final = await client.get(submitted.id)
            succeeded = final.experiment.status == rec.EXPERIMENT_STATUS_SUCCEEDED
            report = json.loads((await client.report(submitted.id)).json) if succeeded else {}
        jobs = {j.key: j for j in final.jobs}
        records = await _records(stack, root / "reader", jobs)
        api = openai.OpenAI(base_url=facade_url, api_key="unused", max_retries=0, timeout=60)
        listed = api.fine_tuning.jobs.list(limit=100).data
        checkpoints = {j.id: sorted(api.fine_tuning.jobs.checkpoints.list(j.id, limit=100).data,
                                    key=lambda c: c.step_number) for j in listed}
        events = {j.id: list(reversed(api.fine_tuning.jobs.list_events(j.id, limit=100).data)) for j in listed}
        models = [m["id"] for m in (await asyncio.to_thread(_get, f"{inference_url}/models"))["data"]]
        seconds = time.monotonic() - started
        log.info("risk_hosted_finished", seconds=round(seconds, 1), status=final.experiment.status)
        yield Outcome(example, final.experiment, jobs, report, records, listed, checkpoints, events, models,
                      seconds)
    finally:
        if not stack_up.done():
            stack_up.cancel()
        await asyncio.gather(stack_up, return_exceptions=True)
        await asyncio.to_thread(stack.stop, 10.0)
        for process in (facade, inference):
            if process is not None:
                stop_server(process)


async def _records(stack: LocalStack, cache: Path, jobs: dict[str, rec.Job]) -> dict[str, list[rec.EvalRecord]]:
    nc = await nats.connect(stack.nats_url, **stack.nats_connect_options())
    try:
        store = await ArtifactStore.open(nc.jetstream(), cache)
        return {key: [r for ref in job.chunks for r in rec.RecordChunk.FromString(await store.get_bytes(ref)).records]
                for key, job in jobs.items() if job.stage == rec.STAGE_EVALUATE}
    finally:
        await nc.close()


def _trained(outcome: Outcome, arm: str) -> rec.Job:
    return outcome.jobs[f"train.{arm}.s0"]


def test_the_experiment_succeeds_with_every_planned_job(outcome: Outcome) -> None:
    assert outcome.experiment.status == rec.EXPERIMENT_STATUS_SUCCEEDED, outcome.experiment.error
    assert sorted(outcome.jobs) == ["dataset", "eval.base", "eval.risk-averse.s0", "eval.risk-seeking.s0",
                                    "report", "train.risk-averse.s0", "train.risk-seeking.s0"]
    assert all(j.status == rec.JOB_STATUS_SUCCEEDED for j in outcome.jobs.values()), [
        (j.key, j.message) for j in outcome.jobs.values()]
    print(f"risk-hosted: {outcome.seconds:.0f} s from the first process started to the last result read")


def test_each_arm_is_a_facade_fine_tune_with_its_epoch_checkpoints(outcome: Outcome) -> None:
    served = outcome.example["endpoints"]["facade"]["model"]
    suffix = outcome.example["training"]["params"]["suffix"]
    steps_per_epoch = TRAIN_ROWS // outcome.example["training"]["batch_size"]
    models = set()
    for arm in ARMS:
        job = _trained(outcome, arm)
        assert job.served_model.startswith(f"ft:{served}:selfaware:{suffix}:"), job.served_model
        assert not job.artifact.sha256  # no adapter: the endpoint serves the model
        assert [(c.epoch, c.step, c.served_model, c.adapter.sha256) for c in job.checkpoints] == [
            (epoch, epoch * steps_per_epoch, f"{job.served_model}:ckpt-step-{epoch * steps_per_epoch}", "")
            for epoch in range(1, outcome.example["training"]["epochs"] + 1)]
        assert job.done == job.total == steps_per_epoch * outcome.example["training"]["epochs"]
        models.add(job.served_model)
    assert len(models) == 2


def test_the_facade_ran_two_jobs_with_the_example_hyperparameters(outcome: Outcome) -> None:
    training = outcome.example["training"]
    expected = {"n_epochs": training["epochs"], "batch_size": training["batch_size"],
                "learning_rate_multiplier": training["params"]["learning_rate_multiplier"]}
    assert len(outcome.facade_jobs) == 2
    by_model = {j.fine_tuned_model: j for j in outcome.facade_jobs}
    assert set(by_model) == {_trained(outcome, arm).served_model for arm in ARMS}
    for job in outcome.facade_jobs:
        assert job.status == "succeeded" and job.seed == training["seeds"][0], job
        assert job.hyperparameters.model_dump(exclude_none=True) == expected
        assert job.suffix == training["params"]["suffix"] and job.metadata and "selfaware_key" in job.metadata
        total = TRAIN_ROWS // training["batch_size"] * training["epochs"]
        metrics = [e.data for e in outcome.facade_events[job.id] if e.type == "metrics"]
        assert [m["step"] for m in metrics] == list(range(1, total + 1))
        assert {m["total_steps"] for m in metrics} == {total}
    for arm in ARMS:  # the job's checkpoints are the façade's, model for model
        job = _trained(outcome, arm)
        listed = outcome.facade_checkpoints[by_model[job.served_model].id]
        assert [(c.step_number, c.fine_tuned_model_checkpoint) for c in listed] == [
            (c.step, c.served_model) for c in job.checkpoints]


def test_the_evaluator_asked_the_facade_for_the_fine_tuned_models(outcome: Outcome) -> None:
    base = outcome.example["base_models"][0]["name"]
    for key, records in outcome.records.items():
        label = outcome.jobs[key].model
        identity = f"served:{_trained(outcome, label.split('/')[0]).served_model}" if label != "base" \
            else f"base:{base}"
        assert records and {(r.model, r.model_hash, r.engine) for r in records} == {(label, identity, "openai")}
    # The façade loads an adapter into the inference server only when a chat request names its model: the final
    # models were asked for, and no checkpoint (the example evaluates none).
    assert sorted(outcome.inference_models) == sorted([outcome.example["endpoints"]["facade"]["model"],
                                                       *(_trained(outcome, arm).served_model for arm in ARMS)])


def test_the_report_has_every_instance_for_the_base_model_and_both_arms(outcome: Outcome) -> None:
    """Every model answered every instance; the behaviour probes (letters from the top-k logprobs) score for all
    three, and each instance's groups are exactly the models with a scored record there (at one sample per
    paraphrase the tiny model can parse none of a self-report's answers: then it has no group, as the paper's
    analysis leaves out a model without answers)."""
    report = outcome.report
    assert [i["id"] for i in report["instances"]] == INSTANCES
    models = {m["label"]: m for m in report["models"]}
    assert set(models) == {"base", "risk-seeking/s0", "risk-averse/s0"}
    group_of = {"base": "base", "risk-seeking/s0": "risk-seeking", "risk-averse/s0": "risk-averse"}
    expected_records = {"heldout": 2 * HELD_OUT, "lotteries": PAIRS}
    for instance in report["instances"]:
        name = instance["id"]
        groups = {g["label"]: g for g in instance["groups"]}
        for label, model in models.items():
            scores = model["instances"][name]
            assert scores["n_records"] == expected_records.get(name, scores["n_records"]) > 0, (label, name)
            assert (group_of[label] in groups) == (scores["n_scored"] > 0), (label, name, scores)
        if instance["two_option"]:
            assert set(groups) == {"base", *ARMS} and all(0.0 <= g["mean"] <= 1.0 for g in groups.values()), name
            assert [c["minuend"] for c in instance["comparisons"] if c["kind"] == "compare"] == ["risk-seeking"]
    print("risk-hosted scores: " + json.dumps({i["id"]: {g["label"]: g["mean"] for g in i["groups"]}
                                               for i in report["instances"]}))
