"""Hosted fine-tuning through an OpenAI-compatible fine-tuning jobs API: the `openai-finetune` backend.

How the paper trained GPT-4o. The backend uploads the training rows as a JSONL file (purpose `fine-tune`),
creates a job with `hyperparameters` {n_epochs = `training.epochs`, batch_size = `training.batch_size`,
learning_rate_multiplier} and the job's seed, polls the job and its events (each metrics event becomes a
`Progress` call), lists its checkpoints, and returns the fine-tuned model's id as `served_model`; there is no
adapter directory. `training.learning_rate` and `training.lora` do not apply: hosted APIs take a multiplier of
their own rate and choose their own adapter.

**Never pays twice.** The job carries a deterministic key in its `metadata` (`selfaware_key`): a hash of the
job's scope (experiment and job key, from the handler), the model, the rows and every setting, none of them
attempt-dependent. Before creating anything, `train` lists the endpoint's jobs with that key: a succeeded one is
reused, a live one is followed, and only when none exists (or only failed and cancelled ones: a failure was
dead-lettered, so reaching this is an operator's replay, which asks for a new try) is a job created. A worker
killed after the create therefore finds its job on redelivery instead of starting a second one.

Every HTTP call goes through `selfaware.openai_endpoint.OpenAIEndpoint` (a client with `max_retries=0` and the
project's one retry loop: backoff on 429, 5xx, timeouts and connection errors; any other 4xx fails at once).
A `Cancelled` raised by `progress` (the experiment was cancelled) cancels the remote job before it propagates;
any other stop (a hand-back on shutdown, a lost lease) leaves the job running for the next attempt to find.

Besides the spec's parameters (`params` below), `TrainingJob.params` carries what the handler adds
(`services.trainer.convert.endpoint_context`): `endpoint_settings`, the named endpoint's connection settings and
`model` (the base model fine-tuned), and `job_scope`, "<experiment id>/<job key>", so two experiments training
the same rows get two jobs. The result's `train_seconds` is the endpoint's time from creation to end (queueing
included: a provider reports no more); `losses` are the metrics events' `train_loss` by step.

Tested against the trainer's own façade (`services.trainer.facade`) on loopback, not against a vendor.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog

from selfaware.errors import Cancelled, DataError, PermanentError
from selfaware.openai_endpoint import EndpointOptions, EndpointRefused, OpenAIEndpoint, describe
from selfaware.params import Param
from services.trainer.backends import (
    OnSave,
    Progress,
    Saved,
    TrainingBackend,
    TrainingJob,
    TrainingResult,
    keep_nothing,
    training_backend,
)

log = structlog.get_logger(__name__)
T = TypeVar("T")

#: `TrainingJob.params` keys the handler fills in (a spec cannot set them: they are not declared parameters).
ENDPOINT_SETTINGS = "endpoint_settings"
JOB_SCOPE = "job_scope"
#: The job's metadata key that carries its idempotency key.
KEY_METADATA = "selfaware_key"
LIVE = ("validating_files", "queued", "running")
#: Jobs, events or checkpoints asked for per page.
PAGE = 100


class FineTuneFailed(PermanentError):
    """The endpoint's job ended failed or was cancelled there: retrying the same delivery cannot help."""


@dataclass(frozen=True)
class FineTuneRequest:
    """What one job is created with, and the key that finds it again."""

    model: str
    hyperparameters: dict[str, Any]
    seed: int
    suffix: str | None
    key: str
    steps_per_epoch: int

    @classmethod
    def of(cls, job: TrainingJob, model: str) -> FineTuneRequest:
        if not job.rows:
            raise DataError("training set: no rows to fine-tune on")
        if job.epochs < 1 or job.batch_size < 1:
            raise DataError("training.epochs and training.batch_size: must be at least 1 for a hosted fine-tune")
        hyper: dict[str, Any] = {"n_epochs": job.epochs, "batch_size": job.batch_size}
        if job.params.get("learning_rate_multiplier") is not None:
            hyper["learning_rate_multiplier"] = job.params["learning_rate_multiplier"]
        suffix = job.params.get("suffix")
        key = idempotency_key(str(job.params.get(JOB_SCOPE, "")), model, job.rows, hyper, job.seed, suffix)
        return cls(model, hyper, job.seed, suffix, key, math.ceil(len(job.rows) / job.batch_size))

    def epoch_of(self, step: int) -> int:
        return min(int(self.hyperparameters["n_epochs"]), max(1, math.ceil(step / self.steps_per_epoch)))


def idempotency_key(scope: str, model: str, rows: list[dict], hyperparameters: dict[str, Any], seed: int,
                    suffix: str | None) -> str:
    """A hash of everything that makes the job what it is; nothing attempt-dependent (no paths, no attempt)."""
    content = json.dumps({"scope": scope, "model": model, "rows": rows, "hyperparameters": hyperparameters,
                          "seed": seed, "suffix": suffix}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(content.encode()).hexdigest()[:32]


class OpenAIFineTuneBackend(TrainingBackend):
    def train(self, job: TrainingJob, progress: Progress, on_save: OnSave = keep_nothing) -> TrainingResult:
        """Find or create the job and follow it to its end. Each checkpoint the endpoint kept goes to `on_save`
        as a `Saved("checkpoint", epoch, step, None, served_model)`; no resume state is saved (the endpoint
        keeps the job, and its key finds it again after a crash)."""
        settings = job.params.get(ENDPOINT_SETTINGS)
        if not isinstance(settings, dict):
            raise DataError(f"training.params.endpoint: the trainer passed no connection settings for endpoint "
                            f"{job.params.get('endpoint')!r} (TrainingJob.params[{ENDPOINT_SETTINGS!r}])")
        try:
            options = EndpointOptions(**settings)
        except (TypeError, ValueError) as error:
            raise DataError(f"endpoints.{job.params.get('endpoint')}: {error}") from None
        request = FineTuneRequest.of(job, options.model)
        with OpenAIEndpoint(options) as endpoint:
            run = _RemoteRun(endpoint, request, float(job.params.get("poll_interval_s", 10.0)), progress, on_save)
            remote = run.find() or run.create(job.rows)
            return run.follow(remote)


class _RemoteRun:
    """One job at the endpoint: found or created, then followed to its end."""

    def __init__(self, endpoint: OpenAIEndpoint, request: FineTuneRequest, poll_s: float, progress: Progress,
                 on_save: OnSave) -> None:
        self.endpoint, self.request, self.poll_s = endpoint, request, poll_s
        self.progress, self.on_save = progress, on_save
        self.losses: dict[int, float] = {}
        self.total = 0
        self._seen_events: set[str] = set()

    def _call(self, request: Callable[[Any], Awaitable[T]]) -> T:
        return self.endpoint.run([self.endpoint.call(request)])[0]

    def _pages(self, fetch: Callable[..., Awaitable[Any]]) -> Iterator[Any]:
        """Every page of a cursor list: `fetch(client, **cursor)` with `after` set from the previous page."""
        cursor: dict[str, str] = {}
        while True:
            page = self._call(functools.partial(fetch, **cursor))
            yield page
            if not page.has_more or not page.data:
                return
            cursor = {"after": page.data[-1].id}

    def find(self) -> Any | None:
        """The newest job with this key: a succeeded one first, else a live one; None when there is neither."""
        key = self.request.key
        matches = [job for page in self._pages(lambda c, **cursor: c.fine_tuning.jobs.list(
            limit=PAGE, metadata={KEY_METADATA: key}, **cursor)) for job in page.data
            if (job.metadata or {}).get(KEY_METADATA) == key]
        for status in ("succeeded", *LIVE):
            if found := [j for j in matches if j.status == status]:
                log.info("finetune_job_found", job_id=found[0].id, status=status, key=key)
                return found[0]
        if matches:
            log.warning("finetune_job_retried", key=key, earlier=[(j.id, j.status) for j in matches])
        return None

    def create(self, rows: list[dict]) -> Any:
        data = b"".join(json.dumps(row, ensure_ascii=False).encode() + b"\n" for row in rows)
        name = f"selfaware-{self.request.key[:16]}.jsonl"
        uploaded = self._call(lambda c: c.files.create(file=(name, data, "application/jsonl"), purpose="fine-tune"))
        r = self.request
        created = self._call(lambda c: c.fine_tuning.jobs.create(
            model=r.model, training_file=uploaded.id, hyperparameters=r.hyperparameters, seed=r.seed,
            metadata={KEY_METADATA: r.key}, **({"suffix": r.suffix} if r.suffix else {})))
        log.info("finetune_job_created", job_id=created.id, file_id=uploaded.id, rows=len(rows), key=r.key,
                 sha256=hashlib.sha256(data).hexdigest())
        return created

    def follow(self, remote: Any) -> TrainingResult:
        """Poll until the job ends; cancel the job if the experiment is cancelled.

        `progress` is called after every poll with the latest metrics event's step, total steps and loss (0, 0
        and NaN before the first), so a cancel is noticed while the job still queues at the endpoint.
        """
        status = ""
        try:
            while True:
                if remote.status != status:
                    status = remote.status
                    log.info("finetune_status", job_id=remote.id, status=status)
                self._read_events(remote.id)
                step = max(self.losses, default=0)
                self.progress(step, self.total, self.losses.get(step, math.nan))
                if status not in LIVE:
                    break
                time.sleep(self.poll_s)
                remote = self._call(functools.partial(_retrieve, job_id=remote.id))
        except Cancelled:
            self._cancel(remote.id)
            raise
        if status != "succeeded":
            error = f": {remote.error.code}: {remote.error.message}" if remote.error else ""
            raise FineTuneFailed(f"fine-tuning job {remote.id} ended {status} at the endpoint{error}")
        return self._result(remote)

    def _read_events(self, job_id: str) -> None:
        """Events are listed newest first: page back to the first one already seen, then apply them in order."""
        fresh = []
        for page in self._pages(lambda c, **cursor: c.fine_tuning.jobs.list_events(job_id, limit=PAGE, **cursor)):
            new = [e for e in page.data if e.id not in self._seen_events]
            fresh += new
            if len(new) < len(page.data):
                break
        for event in reversed(fresh):
            self._seen_events.add(event.id)
            data = event.data if isinstance(event.data, dict) else {}
            if event.type == "metrics" and "step" in data:
                self.total = int(data.get("total_steps") or self.total)
                if data.get("train_loss") is not None:
                    self.losses[int(data["step"])] = float(data["train_loss"])

    def _cancel(self, job_id: str) -> None:
        try:
            self._call(lambda c: c.fine_tuning.jobs.cancel(job_id))
            log.info("finetune_job_cancelled", job_id=job_id)
        except EndpointRefused as error:  # it ended meanwhile: nothing left to stop
            log.info("finetune_cancel_refused", job_id=job_id, error=describe(error))

    def _result(self, remote: Any) -> TrainingResult:
        """The job's outcome; its checkpoints handed to `on_save` first, in step order."""
        kept = sorted((c for page in self._pages(lambda c, **cursor: c.fine_tuning.jobs.checkpoints.list(
            remote.id, limit=PAGE, **cursor)) for c in page.data), key=lambda c: c.step_number)
        for checkpoint in kept:
            step = checkpoint.step_number
            self.on_save(Saved("checkpoint", self.request.epoch_of(step), step, None,
                               checkpoint.fine_tuned_model_checkpoint))
        steps = max([*self.losses, *(c.step_number for c in kept)], default=0)
        seconds = float((remote.finished_at or remote.created_at) - remote.created_at)
        log.info("finetune_succeeded", job_id=remote.id, model=remote.fine_tuned_model, steps=steps,
                 checkpoints=len(kept), seconds=seconds)
        return TrainingResult(
            adapter_dir=None, steps=steps, losses=[self.losses[s] for s in sorted(self.losses)],
            train_seconds=seconds, served_model=remote.fine_tuned_model or "",
            metrics={"trained_tokens": float(remote.trained_tokens)} if remote.trained_tokens else {})


def _retrieve(client: Any, job_id: str) -> Awaitable[Any]:
    return client.fine_tuning.jobs.retrieve(job_id)


@training_backend("openai-finetune")
def openai_finetune(threads: int = 0) -> OpenAIFineTuneBackend:
    """A hosted fine-tune through an OpenAI-compatible fine-tuning jobs API (the result is a served model)."""
    del threads  # the handler passes every backend its torch threads; the training runs at the endpoint
    return OpenAIFineTuneBackend()


openai_finetune.params = (  # type: ignore[attr-defined]
    Param("endpoint", "endpoint", "the endpoint (from `endpoints`) that runs the fine-tuning jobs; its `model` "
                                  "is the base model fine-tuned"),
    Param("learning_rate_multiplier", "float", "the endpoint's learning-rate multiplier; unset: its 'auto'",
          default=None, min=1e-6, max=100.0),
    Param("suffix", "string", "up to 64 characters in the fine-tuned model's name", default=None),
    Param("poll_interval_s", "float", "seconds between two polls of the job's status and events", default=10.0,
          min=0.05, max=600.0),
)
