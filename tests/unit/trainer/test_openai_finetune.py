"""The `openai-finetune` backend's own logic: its idempotency key, its parameters, and how it rides out and reports
an endpoint's failures.

The retry tests run against a tiny local HTTP server (`_FlakyApi`) that speaks the few routes of the fine-tuning
API the backend calls and fails the first requests of each route with 429 or 503: a real server on loopback, but
neither the façade (tests/slow/test_finetune_facade.py trains for real against it) nor a vendor. Nothing here is
verified against a vendor's API.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from selfaware.errors import Cancelled, DataError
from selfaware.openai_endpoint import EndpointRefused, EndpointUnavailable
from selfaware.params import check_params
from services.trainer.backends import BACKENDS, LoraSettings, Saved, TrainingJob
from services.trainer.backends.openai_finetune import (
    ENDPOINT_SETTINGS,
    JOB_SCOPE,
    KEY_METADATA,
    FineTuneFailed,
    FineTuneRequest,
)
from services.trainer.catalogue import catalogue

ROWS = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "A"}]}
        for i in range(5)]


def _job(url: str = "http://127.0.0.1:9/v1", **params: Any) -> TrainingJob:
    settings = {"base_url": url, "model": "base-model", "backoff_s": 0.0, "max_retries": 3}
    return TrainingJob(base_model="unused", rows=ROWS, seed=7, lora=LoraSettings(8, 16, 0.0, ("all-linear",)),
                       learning_rate=1e-3, epochs=2, batch_size=2, output_dir=Path("/nonexistent/a1"),
                       params={"endpoint": "hosted", "poll_interval_s": 0.05, ENDPOINT_SETTINGS: settings,
                               JOB_SCOPE: "exp-1/train.risky.s7", **params})


def _replace(job: TrainingJob, **changes: Any) -> TrainingJob:
    from dataclasses import replace

    return replace(job, **changes)


def test_the_key_ignores_the_attempt_and_changes_with_every_input() -> None:
    job = _job()
    key = FineTuneRequest.of(job, "base-model").key
    assert FineTuneRequest.of(_replace(job, output_dir=Path("/elsewhere/a2")), "base-model").key == key
    changed = [
        _replace(job, rows=ROWS[:4]), _replace(job, seed=8), _replace(job, epochs=3), _replace(job, batch_size=4),
        _replace(job, params=job.params | {"learning_rate_multiplier": 2.0}),
        _replace(job, params=job.params | {"suffix": "x"}),
        _replace(job, params=job.params | {JOB_SCOPE: "exp-2/train.risky.s7"}),
    ]
    keys = {FineTuneRequest.of(j, "base-model").key for j in changed} | {FineTuneRequest.of(job, "other").key}
    assert key not in keys and len(keys) == len(changed) + 1


def test_epochs_of_checkpoint_steps() -> None:
    request = FineTuneRequest.of(_job(), "base-model")  # 5 rows, batch 2: 3 steps an epoch, 2 epochs
    assert [request.epoch_of(step) for step in (1, 3, 4, 6, 7)] == [1, 1, 2, 2, 2]


def test_its_parameters_are_published_and_checked() -> None:
    entry = next(c for c in catalogue().capabilities if c.name == "openai-finetune")
    assert [p.name for p in entry.params] == ["endpoint", "learning_rate_multiplier", "suffix", "poll_interval_s"]
    filled, bad = check_params(entry.params, {"endpoint": "hosted"}, "training.params", {"endpoint": ["hosted"]})
    assert not bad and filled == {"endpoint": "hosted", "poll_interval_s": 10.0}
    _, bad = check_params(entry.params, {"endpoint": "nope", "learning_rate_multiplier": 0}, "training.params",
                          {"endpoint": ["hosted"]})
    assert sorted(v.field for v in bad) == ["training.params.endpoint", "training.params.learning_rate_multiplier"]
    _, bad = check_params(entry.params, {}, "training.params", {"endpoint": ["hosted"]})
    assert [v.field for v in bad] == ["training.params.endpoint"]


def test_without_the_endpoints_settings_it_names_the_field() -> None:
    job = _job()
    del job.params[ENDPOINT_SETTINGS]
    with pytest.raises(DataError, match=r"training.params.endpoint: .*'hosted'.*endpoint_settings"):
        BACKENDS.get("openai-finetune")().train(job, lambda *_: None)


class _FlakyApi(ThreadingHTTPServer):
    """The fine-tuning routes the backend calls; the first `failures` requests of each route answer `status`.

    The job it creates succeeds on its second retrieve, after two metrics events, with one checkpoint per epoch.
    """

    def __init__(self, failures: int, status: int = 429, job_status: str = "succeeded") -> None:
        super().__init__(("127.0.0.1", 0), _FlakyHandler)
        self.failures, self.status, self.job_status = failures, status, job_status
        self.seen: Counter[str] = Counter()  # route -> requests
        self.created: list[dict[str, Any]] = []
        self.retrieves = 0
        self.cancelled: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def job(self) -> dict[str, Any]:
        body = self.created[0]
        done = self.retrieves >= 2
        return {"id": "ftjob-1", "object": "fine_tuning.job", "created_at": 100, "finished_at": 160 if done else None,
                "model": body["model"], "status": self.job_status if done else "running", "seed": body["seed"],
                "fine_tuned_model": "ft:base-model:org::1" if done else None, "hyperparameters": body["hyperparameters"],
                "metadata": body["metadata"], "training_file": body["training_file"], "result_files": [],
                "organization_id": "org", "trained_tokens": 42 if done else None,
                "error": {"code": "invalid_file", "message": "bad rows", "param": None} if self.job_status == "failed"
                else None}

    def answer(self, route: str) -> Any:
        if route == "POST /files":
            return {"id": "file-1", "object": "file", "bytes": 1, "created_at": 1, "filename": "x.jsonl",
                    "purpose": "fine-tune", "status": "processed"}
        if route == "GET /fine_tuning/jobs":
            return {"object": "list", "data": [], "has_more": False}
        if route == "POST /fine_tuning/jobs":
            return self.job()
        if route == "GET /fine_tuning/jobs/ftjob-1":
            self.retrieves += 1
            return self.job()
        if route == "POST /fine_tuning/jobs/ftjob-1/cancel":
            self.cancelled.append("ftjob-1")
            return self.job() | {"status": "cancelled"}
        if route == "GET /fine_tuning/jobs/ftjob-1/events":
            steps = [{"id": f"ev-{s}", "object": "fine_tuning.job.event", "created_at": s, "level": "info",
                      "message": f"Step {s}/6", "type": "metrics",
                      "data": {"step": s, "train_loss": 1.0 / s, "total_steps": 6}} for s in (1, 2)]
            return {"object": "list", "data": steps[::-1], "has_more": False}
        if route == "GET /fine_tuning/jobs/ftjob-1/checkpoints":
            return {"object": "list", "has_more": False, "data": [
                {"id": f"ck-{s}", "object": "fine_tuning.job.checkpoint", "created_at": s, "step_number": s,
                 "fine_tuned_model_checkpoint": f"ft:base-model:org::1:ckpt-step-{s}", "fine_tuning_job_id": "ftjob-1",
                 "metrics": {"step": s}} for s in (6, 3)]}
        raise AssertionError(route)


class _FlakyHandler(BaseHTTPRequestHandler):
    server: _FlakyApi
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._answer(b"")

    def do_POST(self) -> None:
        self._answer(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, body: bytes) -> None:
        route = f"{self.command} {self.path.split('?')[0].removeprefix('/v1')}"
        api = self.server
        api.seen[route] += 1
        if api.seen[route] <= api.failures:
            status, data = api.status, {"error": {"message": "slow down", "type": "requests", "param": None,
                                                  "code": None}}
        else:
            if route == "POST /fine_tuning/jobs":
                api.created.append(json.loads(body))
            status, data = 200, api.answer(route)
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        if status == 429:
            self.send_header("Retry-After", "0")
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture
def flaky(request: pytest.FixtureRequest) -> Iterator[_FlakyApi]:
    server = _FlakyApi(*request.param)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("flaky", [(2, 429), (2, 503)], indirect=True, ids=["429", "503"])
def test_it_retries_429_and_5xx_and_creates_one_job(flaky: _FlakyApi) -> None:
    calls: list[tuple[int, int, float]] = []
    saved: list[Saved] = []
    result = BACKENDS.get("openai-finetune")().train(_job(flaky.url), lambda *a: calls.append(a), saved.append)
    # every route failed twice first and was retried until it answered; the job's events were read at each of its
    # three states (running when created, running, succeeded), and it was created once
    assert dict(flaky.seen) == {"GET /fine_tuning/jobs": 3, "POST /files": 3, "POST /fine_tuning/jobs": 3,
                                "GET /fine_tuning/jobs/ftjob-1/events": 5, "GET /fine_tuning/jobs/ftjob-1": 4,
                                "GET /fine_tuning/jobs/ftjob-1/checkpoints": 3}
    assert len(flaky.created) == 1
    body = flaky.created[0]
    assert body["hyperparameters"] == {"n_epochs": 2, "batch_size": 2} and body["seed"] == 7
    assert body["model"] == "base-model" and set(body["metadata"]) == {KEY_METADATA}
    assert result.adapter_dir is None and result.served_model == "ft:base-model:org::1"
    assert (result.steps, result.losses, result.train_seconds) == (6, [1.0, 0.5], 60.0)
    assert result.metrics == {"trained_tokens": 42.0}
    # the endpoint's checkpoints, in step order, each with its epoch and its served model, no folder
    assert saved == [Saved("checkpoint", 1, 3, None, "ft:base-model:org::1:ckpt-step-3"),
                     Saved("checkpoint", 2, 6, None, "ft:base-model:org::1:ckpt-step-6")]
    assert (2, 6, 0.5) in calls  # the metrics events reached progress


@pytest.mark.parametrize("flaky", [(99, 503)], indirect=True)
def test_it_gives_up_after_its_retries(flaky: _FlakyApi) -> None:
    with pytest.raises(EndpointUnavailable, match="after 4 attempts: HTTP 503"):
        BACKENDS.get("openai-finetune")().train(_job(flaky.url), lambda *_: None)
    assert flaky.seen["GET /fine_tuning/jobs"] == 4 and not flaky.created


@pytest.mark.parametrize("flaky", [(1, 400)], indirect=True)
def test_a_refusal_is_not_retried(flaky: _FlakyApi) -> None:
    with pytest.raises(EndpointRefused, match="HTTP 400: slow down"):
        BACKENDS.get("openai-finetune")().train(_job(flaky.url), lambda *_: None)
    assert sum(flaky.seen.values()) == 1


@pytest.mark.parametrize("flaky", [(0, 200, "failed")], indirect=True)
def test_a_failed_job_is_a_permanent_error_with_its_reason(flaky: _FlakyApi) -> None:
    with pytest.raises(FineTuneFailed, match="ftjob-1 ended failed at the endpoint: invalid_file: bad rows"):
        BACKENDS.get("openai-finetune")().train(_job(flaky.url), lambda *_: None)


@pytest.mark.parametrize("flaky", [(0,)], indirect=True)
def test_a_cancelled_experiment_cancels_the_remote_job(flaky: _FlakyApi) -> None:
    def cancel(*_: object) -> None:
        raise Cancelled("the experiment was cancelled")

    with pytest.raises(Cancelled):
        BACKENDS.get("openai-finetune")().train(_job(flaky.url), cancel)
    assert flaky.cancelled == ["ftjob-1"] and len(flaky.created) == 1
