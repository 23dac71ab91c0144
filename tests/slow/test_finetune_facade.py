"""The `openai-finetune` backend against the trainer's fine-tuning façade, both for real: the façade in its own
process on loopback, training the tiny model with the peft backend and serving the results through the project's
OpenAI-compatible server (tests/slow/local_server.py), and the backend talking to it over HTTP with the openai
client. This is tested against the local façade only, not verified against a vendor's fine-tuning API.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import openai
import pytest

from services.trainer.backends import BACKENDS, LoraSettings, Saved, TrainingJob
from services.trainer.backends.openai_finetune import (
    ENDPOINT_SETTINGS,
    JOB_SCOPE,
    KEY_METADATA,
    FineTuneRequest,
)
from tests.slow.local_server import REPO, SERVED, start_server, stop_server, url_of

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
ROWS = [{"messages": [{"role": "user", "content": f"Pick {letter}, please."}, {"role": "assistant", "content": "A"}]}
        for letter in "ABCD"]
PROMPT = [{"role": "user", "content": "Pick A or B."}]


@pytest.fixture(scope="module")
def facade(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The inference server, then the façade in front of it; yields the façade's API root."""
    inference = start_server(tiny_model_dir)
    process = None
    try:
        inference_url = url_of(inference)
        process = subprocess.Popen(
            [sys.executable, "-m", "services.trainer.facade", "--model", str(tiny_model_dir), "--served-name", SERVED,
             "--data-dir", str(tmp_path_factory.mktemp("facade")), "--inference-url", inference_url, "--port", "0",
             "--threads", "1"], cwd=REPO, stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("listening on http://127.0.0.1:"):
            pytest.fail(f"the façade did not start (exit {process.poll()}): {line!r}")
        yield line.split()[-1]
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
        stop_server(inference)


def _client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=120)


def _job(url: str, scope: str, epochs: int = 2, batch_size: int = 4) -> TrainingJob:
    return TrainingJob(base_model="unused", rows=ROWS, seed=1, lora=LoraSettings(8, 16, 0.0, ("all-linear",)),
                       learning_rate=0.0, epochs=epochs, batch_size=batch_size, output_dir=Path("/nonexistent"),
                       params={"endpoint": "facade", "learning_rate_multiplier": 5.0, "poll_interval_s": 0.2,
                               ENDPOINT_SETTINGS: {"base_url": url, "model": SERVED, "backoff_s": 0.1},
                               JOB_SCOPE: scope})


def _top_logprobs(client: openai.OpenAI, model: str) -> dict[str, float]:
    answer = client.chat.completions.create(model=model, messages=PROMPT, max_tokens=1, temperature=0,  # type: ignore[arg-type]
                                            logprobs=True, top_logprobs=5)
    assert answer.choices[0].logprobs is not None and answer.choices[0].logprobs.content
    return {t.token: t.logprob for t in answer.choices[0].logprobs.content[0].top_logprobs}


def test_a_job_trains_keeps_its_epochs_and_its_model_answers(facade: str) -> None:
    seen: list[tuple[int, int, float]] = []
    saved: list[Saved] = []
    result = BACKENDS.get("openai-finetune")().train(_job(facade, "exp/train.a.s1"), lambda *a: seen.append(a),
                                                     saved.append)
    # 4 rows, batch 4, 2 epochs: 2 steps, a checkpoint after each epoch
    assert result.adapter_dir is None and result.served_model.startswith(f"ft:{SERVED}:selfaware::")
    assert result.steps == 2 and len(result.losses) == 2 and all(loss > 0 for loss in result.losses)
    assert [(s, t) for s, t, _ in seen if s][-1] == (2, 2)
    assert [(s.kind, s.epoch, s.step, s.folder) for s in saved] == [("checkpoint", 1, 1, None),
                                                                     ("checkpoint", 2, 2, None)]

    client = _client(facade)
    (job,) = [j for j in client.fine_tuning.jobs.list(limit=100).data if j.fine_tuned_model == result.served_model]
    assert (job.status, job.fine_tuned_model, job.hyperparameters.n_epochs) == ("succeeded", result.served_model, 2)
    messages = [e.message for e in reversed(client.fine_tuning.jobs.list_events(job.id, limit=100).data)]
    order = ["Validating training file", "Files validated, moving job to queued state", "Fine-tuning job started",
             "Step 1/2", "Checkpoint created at step 1", "Step 2/2", "New fine-tuned model created",
             "The job has successfully completed"]
    positions = [next(i for i, m in enumerate(messages) if m.startswith(prefix)) for prefix in order]
    assert positions == sorted(positions), messages
    listed = client.fine_tuning.jobs.checkpoints.list(job.id).data
    assert sorted((c.step_number, c.fine_tuned_model_checkpoint) for c in listed) == [
        (s.step, s.served_model) for s in saved]

    # the fine-tuned model and its first checkpoint answer through the façade, each with its own weights
    base = _top_logprobs(client, SERVED)
    tuned = _top_logprobs(client, result.served_model)
    first = _top_logprobs(client, saved[0].served_model)
    for other in (tuned, first):
        shared = base.keys() & other.keys()
        assert shared and max(abs(base[t] - other[t]) for t in shared) > 1e-3, (base, other)
    assert tuned != first


def test_cancel_stops_a_running_job(facade: str) -> None:
    client = _client(facade)
    rows = "".join(json.dumps(row) + "\n" for row in ROWS * 2).encode()
    uploaded = client.files.create(file=("rows.jsonl", rows, "application/jsonl"), purpose="fine-tune")
    job = client.fine_tuning.jobs.create(model=SERVED, training_file=uploaded.id,
                                         hyperparameters={"n_epochs": 5, "batch_size": 1})  # 40 steps
    deadline = time.monotonic() + 120
    while not any(e.type == "metrics" for e in client.fine_tuning.jobs.list_events(job.id).data):
        assert time.monotonic() < deadline, "the job never started training"
        time.sleep(0.2)
    assert client.fine_tuning.jobs.cancel(job.id).status == "cancelled"
    while not (stopped := [e for e in client.fine_tuning.jobs.list_events(job.id, limit=100).data
                           if e.message.startswith("Training stopped after step")]):
        assert time.monotonic() < deadline, "training did not stop"
        time.sleep(0.2)
    step = int(stopped[0].message.split()[-1])
    time.sleep(2)  # longer than a step: had training gone on, more steps would show
    events = list(reversed(client.fine_tuning.jobs.list_events(job.id, limit=100).data))
    steps = [e.data["step"] for e in events if e.type == "metrics"]  # type: ignore[index]
    assert 1 <= step < 40 and steps == list(range(1, step + 1))
    cancelled_at = next(i for i, e in enumerate(events) if e.message == "Fine-tuning job cancelled")
    assert all(e.type != "metrics" for e in events[cancelled_at:])
    final = client.fine_tuning.jobs.retrieve(job.id)
    assert (final.status, final.fine_tuned_model) == ("cancelled", None)
    with pytest.raises(openai.BadRequestError):
        client.fine_tuning.jobs.cancel(job.id)


CHILD = """
import json, sys
from pathlib import Path
from services.trainer.backends import BACKENDS, LoraSettings, Saved, TrainingJob
fields = json.loads(sys.argv[1])
fields["lora"] = LoraSettings(**fields["lora"])
fields["output_dir"] = Path(fields["output_dir"])
BACKENDS.get("openai-finetune")().train(TrainingJob(**fields), lambda *a: None)
"""


def test_after_a_crash_the_backend_finds_its_job_instead_of_creating_another(facade: str) -> None:
    job = _job(facade, "exp/train.crash.s1")
    key = FineTuneRequest.of(job, SERVED).key
    client = _client(facade)

    def mine() -> list[Any]:
        return [j for j in client.fine_tuning.jobs.list(limit=100, metadata={KEY_METADATA: key}).data
                if (j.metadata or {}).get(KEY_METADATA) == key]

    child = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(asdict(job), default=str)], cwd=REPO,
                             env=os.environ | {"PYTHONPATH": str(REPO)})
    deadline = time.monotonic() + 60
    while not mine():
        assert child.poll() is None, f"the first trainer exited ({child.returncode}) before creating its job"
        assert time.monotonic() < deadline, "the first trainer never created its job"
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)  # killed right after the create, as a crashed worker
    child.wait(timeout=10)
    (created,) = mine()
    assert created.status in ("validating_files", "queued", "running")  # it crashed mid-job

    result = BACKENDS.get("openai-finetune")().train(job, lambda *_: None)
    (still,) = mine()  # no second job
    assert still.id == created.id and result.served_model == still.fine_tuned_model and result.steps == 2
