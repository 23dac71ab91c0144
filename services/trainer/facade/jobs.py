"""The façade's files and fine-tuning jobs: records in OpenAI's shapes, kept on disk, trained in order by one worker.

Why one worker thread: the jobs share the machine's cores, so a second concurrent training would only make both
slower; later jobs wait `queued`, as at a vendor. A job moves `validating_files` (the file is checked) ->
`queued` -> `running` (the peft backend, `BACKENDS.get("peft-lora")`, trains a LoRA adapter into
`<data dir>/jobs/<id>/adapter`) -> `succeeded`, `failed` or `cancelled`, and every move is an event. Each step
is a `metrics` event ({step, train_loss, total_steps}); a cancel is noticed at the next step. Every epoch's
adapter is a checkpoint (the backend's `checkpoint_epochs`), servable as `<model>:ckpt-step-<step>` (OpenAI
keeps the last three epochs'; the façade keeps all). Records are JSON files written
atomically after every change, so a restarted façade lists every job, and trains again those it had not finished.
"""

from __future__ import annotations

import json
import os
import queue
import random
import shutil
import threading
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

import structlog

from selfaware.errors import Cancelled
from services.trainer.backends import BACKENDS, LoraSettings, Saved, TrainingJob
from services.trainer.facade.errors import ApiError, not_found
from services.trainer.facade.requests import JobRequest
from services.trainer.facade.uploads import Upload, training_rows

log = structlog.get_logger(__name__)
LIVE = ("validating_files", "queued", "running")


@dataclass(frozen=True)
class FacadeSettings:
    #: The base model's weights (a transformers directory).
    model_dir: Path
    #: The base model's name in requests; also its name on the inference server.
    served_name: str
    #: The learning rate that a `learning_rate_multiplier` of 1 means.
    learning_rate: float = 1e-3
    #: LoRA rank (alpha is twice it; every linear layer).
    lora_rank: int = 8
    #: Torch threads for training (0: torch's choice).
    threads: int = 0


@dataclass
class _Record:
    job: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    #: served model name (the fine-tuned model and its checkpoints) -> adapter directory
    models: dict[str, str] = field(default_factory=dict)
    #: Creation order (ns), which listings follow; created_at has whole seconds only.
    order: int = field(default_factory=time.time_ns)
    cancel: threading.Event = field(default_factory=threading.Event)


def page(items: list[dict[str, Any]], after: str | None, limit: int) -> dict[str, Any]:
    """OpenAI's cursor page over items listed newest first: those after the item `after`, at most `limit`."""
    if after is not None:
        ids = [item["id"] for item in items]
        if after not in ids:
            raise ApiError(HTTPStatus.BAD_REQUEST, f"after: no item {after!r} in this list", "after")
        items = items[ids.index(after) + 1:]
    return {"object": "list", "data": items[:limit], "has_more": len(items) > limit}


class FineTuning:
    """Files, jobs, events and checkpoints; thread-safe (the HTTP server calls it from many threads)."""

    def __init__(self, root: Path, settings: FacadeSettings) -> None:
        self.root, self.settings = root, settings
        for folder in ("files", "jobs"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._files = {p.stem: json.loads(p.read_text()) for p in (root / "files").glob("*.json")}
        self._jobs: dict[str, _Record] = {}
        stored = [json.loads(path.read_text()) for path in (root / "jobs").glob("*.json")]
        for data in sorted(stored, key=lambda d: d["order"]):
            self._jobs[data["job"]["id"]] = _Record(data["job"], data["events"], data["checkpoints"],
                                                    data["models"], data["order"])
        self._queue: queue.Queue[str | None] = queue.Queue()
        for record in self._jobs.values():
            if record.job["status"] in LIVE:  # the façade stopped while it waited or trained: start it again
                self._move(record, "queued", "The fine-tuning service restarted; the job starts again")
                self._queue.put(record.job["id"])
        self._worker = threading.Thread(target=self._work, name="facade-trainer", daemon=True)
        self._worker.start()

    def close(self) -> None:
        for record in self._jobs.values():
            record.cancel.set()
        self._queue.put(None)
        self._worker.join(timeout=60)

    # files
    def add_file(self, upload: Upload) -> dict[str, Any]:
        if upload.purpose != "fine-tune":
            raise ApiError(HTTPStatus.BAD_REQUEST, f"purpose: this server stores 'fine-tune' files, got "
                                                   f"{upload.purpose!r}", "purpose")
        file_id = f"file-{uuid.uuid4().hex[:24]}"
        meta = {"id": file_id, "object": "file", "bytes": len(upload.data), "created_at": int(time.time()),
                "filename": upload.filename, "purpose": upload.purpose, "status": "processed"}
        _write(self.root / "files" / f"{file_id}.jsonl", upload.data)
        _write(self.root / "files" / f"{file_id}.json", json.dumps(meta).encode())
        with self._lock:
            self._files[file_id] = meta
        return meta

    def file(self, file_id: str) -> dict[str, Any]:
        with self._lock:
            if file_id not in self._files:
                raise not_found("File object", file_id)
            return dict(self._files[file_id])

    # jobs
    def create(self, request: JobRequest) -> dict[str, Any]:
        with self._lock:
            if request.training_file not in self._files:
                raise ApiError(HTTPStatus.BAD_REQUEST, f"invalid training_file: {request.training_file}",
                               "training_file", "invalid_training_file")
            job_id = f"ftjob-{uuid.uuid4().hex[:24]}"
            job = {"id": job_id, "object": "fine_tuning.job", "created_at": int(time.time()), "error": None,
                   "fine_tuned_model": None, "finished_at": None, "hyperparameters": request.hyperparameters,
                   "model": request.model, "organization_id": "org-selfaware", "result_files": [],
                   "seed": random.randrange(2**31) if request.seed is None else request.seed,
                   "status": "validating_files", "trained_tokens": None, "training_file": request.training_file,
                   "validation_file": None, "estimated_finish": None, "integrations": [],
                   "metadata": request.metadata, "suffix": request.suffix,
                   "method": {"type": "supervised", "supervised": {"hyperparameters": request.hyperparameters}}}
            record = self._jobs[job_id] = _Record(job)
            self._event(record, f"Validating training file: {request.training_file}")
        self._queue.put(job_id)
        log.info("facade_job_created", job_id=job_id, hyperparameters=request.hyperparameters)
        return dict(job)

    def jobs(self, after: str | None, limit: int, metadata: dict[str, str]) -> dict[str, Any]:
        with self._lock:
            listed = [dict(r.job) for r in reversed(self._jobs.values())
                      if all((r.job["metadata"] or {}).get(k) == v for k, v in metadata.items())]
        return page(listed, after, limit)

    def job(self, job_id: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._record(job_id).job)

    def events(self, job_id: str, after: str | None, limit: int) -> dict[str, Any]:
        with self._lock:
            return page(list(reversed(self._record(job_id).events)), after, limit)

    def checkpoints(self, job_id: str, after: str | None, limit: int) -> dict[str, Any]:
        with self._lock:
            return page(list(reversed(self._record(job_id).checkpoints)), after, limit)

    def cancel(self, job_id: str) -> dict[str, Any]:
        """A live job is cancelled at once; a running one stops training at its next step."""
        with self._lock:
            record = self._record(job_id)
            if record.job["status"] not in LIVE:
                raise ApiError(HTTPStatus.BAD_REQUEST, f"Job {job_id} has already {record.job['status']}.",
                               None, "job_not_cancellable")
            record.cancel.set()
            self._finish(record, "cancelled", "Fine-tuning job cancelled")
            return dict(record.job)

    def adapter_of(self, model: str) -> str | None:
        """The adapter directory that serves `model` (a fine-tuned model or a checkpoint), None if none does."""
        with self._lock:
            return next((r.models[model] for r in self._jobs.values() if model in r.models), None)

    def served_models(self) -> list[str]:
        with self._lock:
            return [name for r in self._jobs.values() for name in r.models]

    # the worker
    def _work(self) -> None:
        while (job_id := self._queue.get()) is not None:
            try:
                self._train(self._jobs[job_id])
            except Exception as error:  # a bug or a backend failure: the job fails, the worker lives on
                log.exception("facade_job_failed", job_id=job_id)
                with self._lock:
                    if self._jobs[job_id].job["status"] in LIVE:
                        self._finish(self._jobs[job_id], "failed", "The job failed",
                                     {"code": "server_error", "message": f"{type(error).__name__}: {error}",
                                      "param": None})

    def _train(self, record: _Record) -> None:
        job, job_id = record.job, record.job["id"]
        with self._lock:
            if job["status"] not in LIVE:
                return  # cancelled while it waited
        try:
            rows = training_rows((self.root / "files" / f"{job['training_file']}.jsonl").read_bytes())
        except ValueError as error:
            with self._lock:
                self._finish(record, "failed", "The job failed", {
                    "code": "invalid_training_file", "param": "training_file",
                    "message": f"The training file {job['training_file']} is invalid: {error}"})
            return
        with self._lock:
            if job["status"] not in LIVE:
                return
            self._move(record, "queued", "Files validated, moving job to queued state")
            self._move(record, "running", "Fine-tuning job started")
        hyper, s = job["hyperparameters"], self.settings
        folder = self.root / "jobs" / job_id
        training = TrainingJob(
            base_model=str(s.model_dir), rows=rows, seed=job["seed"],
            lora=LoraSettings(s.lora_rank, 2.0 * s.lora_rank, 0.0, ("all-linear",)),
            learning_rate=s.learning_rate * hyper["learning_rate_multiplier"], epochs=hyper["n_epochs"],
            batch_size=hyper["batch_size"], output_dir=folder / "adapter", params={"checkpoint_epochs": True})
        model = f"ft:{job['model']}:selfaware:{job['suffix'] or ''}:{job_id[-8:]}"
        done: dict[str, Any] = {"step": 0, "loss": None}

        def progress(step: int, total: int, loss: float) -> None:
            with self._lock:
                if record.cancel.is_set():
                    raise Cancelled(f"job {job_id} was cancelled")
                done.update(step=step, loss=loss)
                self._event(record, f"Step {step}/{total}: training loss={loss:.4f}", "metrics",
                            {"step": step, "train_loss": loss, "total_steps": total})

        def on_save(saved: Saved) -> None:
            """An epoch's adapter: copied (the backend may reuse its folder) and servable at once."""
            if saved.kind != "checkpoint":
                return  # resume states: a restarted façade trains the job again from the start
            kept = shutil.copytree(saved.folder, folder / "checkpoints" / f"step-{saved.step}", dirs_exist_ok=True)
            with self._lock:
                self._checkpoint(record, f"{model}:ckpt-step-{saved.step}", saved.step, done["loss"], kept)

        try:
            result = BACKENDS.get("peft-lora")(threads=s.threads).train(training, progress, on_save)
        except Cancelled:
            with self._lock:
                self._event(record, f"Training stopped after step {done['step']}")
            log.info("facade_job_stopped", job_id=job_id, step=done["step"])
            return
        with self._lock:
            if job["status"] not in LIVE:
                return
            record.models[model] = str(result.adapter_dir)
            job["fine_tuned_model"] = model
            self._event(record, f"New fine-tuned model created: {model}")
            self._finish(record, "succeeded", "The job has successfully completed")
        log.info("facade_job_succeeded", job_id=job_id, model=model, steps=result.steps,
                 checkpoints=len(record.checkpoints))

    # under the lock
    def _record(self, job_id: str) -> _Record:
        if job_id not in self._jobs:
            raise ApiError(HTTPStatus.NOT_FOUND, f"Could not find fine-tuning job: {job_id}", "fine_tuning_job_id",
                           "fine_tuning_job_not_found")
        return self._jobs[job_id]

    def _checkpoint(self, record: _Record, name: str, step: int, loss: float | None, adapter: Path) -> None:
        record.checkpoints.append({
            "id": f"ftckpt-{uuid.uuid4().hex[:24]}", "object": "fine_tuning.job.checkpoint",
            "created_at": int(time.time()), "fine_tuned_model_checkpoint": name,
            "fine_tuning_job_id": record.job["id"], "step_number": step,
            "metrics": {"step": step, "train_loss": loss}})
        record.models[name] = str(adapter)
        self._event(record, f"Checkpoint created at step {step}")

    def _move(self, record: _Record, status: str, message: str) -> None:
        record.job["status"] = status
        self._event(record, message)

    def _finish(self, record: _Record, status: str, message: str, error: dict[str, Any] | None = None) -> None:
        record.job.update(status=status, finished_at=int(time.time()), error=error)
        self._event(record, message, level="error" if error else "info")

    def _event(self, record: _Record, message: str, kind: str = "message", data: dict[str, Any] | None = None,
               level: str = "info") -> None:
        record.events.append({"id": f"ftevent-{uuid.uuid4().hex[:24]}", "object": "fine_tuning.job.event",
                              "created_at": int(time.time()), "level": level, "message": message, "type": kind,
                              "data": data or {}})
        data_out = {"job": record.job, "events": record.events, "checkpoints": record.checkpoints,
                    "models": record.models, "order": record.order}
        _write(self.root / "jobs" / f"{record.job['id']}.json", json.dumps(data_out).encode())


def _write(path: Path, data: bytes) -> None:
    """Atomically: a reader sees the old file or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
