"""Experiment and job state in one NATS KV bucket, every update guarded by a revision check.

Keys: `exp.<experiment id>` holds an `Experiment`, `job.<experiment id>.<job key>` holds a `Job`, `sweep.<sweep
id>` holds a `Sweep` (its cells are experiments of their own). Writers pass a
mutation function; `_update` re-reads and retries when another writer got there first, so concurrent services
never lose each other's changes. The aggregator's Watch RPC is a KV watch over one experiment's keys.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import TypeVar

import nats.errors
import nats.js.errors
from google.protobuf.message import Message
from nats.js.api import KeyValueConfig

from selfaware.errors import NotFound
from selfaware.status import TERMINAL
from selfaware.v1 import catalogue_pb2 as cat
from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import sweep_pb2

STATE_BUCKET = "selfaware-state"
M = TypeVar("M", bound=Message)


def experiment_key(experiment_id: str) -> str:
    return f"exp.{experiment_id}"


def job_key(experiment_id: str, key: str) -> str:
    return f"job.{experiment_id}.{key}"


def sweep_key(sweep_id: str) -> str:
    return f"sweep.{sweep_id}"


class StateStore:
    """Typed access to the state bucket."""

    def __init__(self, kv: object, js: object) -> None:
        self._kv, self._js = kv, js

    @classmethod
    async def open(cls, js: object, replicas: int = 1, create: bool = True) -> StateStore:
        """Open (creating if needed and `create`) the state bucket; every service may call this. `replicas`:
        copies on a NATS cluster, used when the bucket is created (an existing bucket keeps its own)."""
        if not create:  # a service on its own NATS user: `selfaware.provision` created it
            return cls(await js.key_value(STATE_BUCKET), js)  # type: ignore[attr-defined]
        try:
            kv = await js.create_key_value(KeyValueConfig(bucket=STATE_BUCKET, history=16,  # type: ignore[attr-defined]
                                                          replicas=replicas))
        except nats.js.errors.BadRequestError:
            kv = await js.key_value(STATE_BUCKET)  # type: ignore[attr-defined]
        return cls(kv, js)

    async def create_experiment(self, experiment: rec.Experiment, jobs: list[rec.Job]) -> bool:
        """Store a new experiment and its planned jobs; False if an experiment with this id exists already.

        Jobs go first, so a watcher never sees an empty plan; the experiment key is the commit point. A job key
        that exists already was left by an earlier attempt at the same id (an idempotent retry) and holds the
        same plan, so it is kept, never overwritten. A failure before the commit point removes the job keys
        this call wrote.
        """
        try:
            await self.get_experiment(experiment.id)
            return False
        except NotFound:
            pass
        written: list[str] = []
        try:
            for job in jobs:
                key = job_key(experiment.id, job.key)
                try:
                    await self._kv.create(key, job.SerializeToString())  # type: ignore[attr-defined]
                except nats.js.errors.KeyWrongLastSequenceError:
                    continue
                written.append(key)
            await self._kv.create(experiment_key(experiment.id), experiment.SerializeToString())  # type: ignore[attr-defined]
        except nats.js.errors.KeyWrongLastSequenceError:
            return False  # a concurrent create of the same id won; its jobs are the same plan
        except BaseException:
            for key in written:
                try:
                    await self._kv.purge(key)  # type: ignore[attr-defined]
                except Exception:  # noqa: BLE001 - best effort; the original error is what matters
                    pass
            raise
        return True

    async def get_experiment(self, experiment_id: str) -> rec.Experiment:
        return (await self._get(experiment_key(experiment_id), rec.Experiment))[0]

    async def get_job(self, experiment_id: str, key: str) -> rec.Job:
        return (await self._get(job_key(experiment_id, key), rec.Job))[0]

    async def list_experiments(self) -> list[rec.Experiment]:
        experiments = await self._get_listed(await self._keys("exp.*"), rec.Experiment)
        return sorted(experiments, key=lambda e: e.created_at.ToNanoseconds())

    async def list_jobs(self, experiment_id: str) -> list[rec.Job]:
        await self.get_experiment(experiment_id)
        return await self._get_listed(await self._keys(f"job.{experiment_id}.>"), rec.Job)

    async def update_experiment(self, experiment_id: str, mutate: Callable[[rec.Experiment], bool | None]
                                ) -> rec.Experiment:
        """Apply `mutate` (return False to skip the write) under a revision check; returns the stored value."""
        return await self._update(experiment_key(experiment_id), rec.Experiment, mutate)

    async def update_job(self, experiment_id: str, key: str, mutate: Callable[[rec.Job], bool | None]) -> rec.Job:
        return await self._update(job_key(experiment_id, key), rec.Job, mutate)

    async def put_catalogue(self, published: cat.Catalogue) -> None:
        """Publish a service's catalogue (replacing the one its previous start published)."""
        await self._kv.put(f"catalogue.{published.service}", published.SerializeToString())  # type: ignore[attr-defined]

    async def catalogues(self) -> list[cat.Catalogue]:
        """Every published catalogue, by service name."""
        return await self._get_listed(await self._keys("catalogue.*"), cat.Catalogue)

    async def create_sweep(self, sweep: sweep_pb2.Sweep) -> bool:
        """Store a new sweep; False if a sweep with this id exists already."""
        try:
            await self._kv.create(sweep_key(sweep.id), sweep.SerializeToString())  # type: ignore[attr-defined]
        except nats.js.errors.KeyWrongLastSequenceError:
            return False
        return True

    async def get_sweep(self, sweep_id: str) -> sweep_pb2.Sweep:
        return (await self._get(sweep_key(sweep_id), sweep_pb2.Sweep))[0]

    async def list_sweeps(self) -> list[sweep_pb2.Sweep]:
        sweeps = await self._get_listed(await self._keys("sweep.*"), sweep_pb2.Sweep)
        return sorted(sweeps, key=lambda s: s.created_at.ToNanoseconds())

    async def update_sweep(self, sweep_id: str, mutate: Callable[[sweep_pb2.Sweep], bool | None]
                           ) -> sweep_pb2.Sweep:
        return await self._update(sweep_key(sweep_id), sweep_pb2.Sweep, mutate)

    def watch(self, experiment_id: str) -> AsyncIterator[rec.Experiment | rec.Job]:
        """Current values, then every change, of one experiment and its jobs; ends when it is terminal."""
        return self._watch([(experiment_key(experiment_id), rec.Experiment),
                            (f"job.{experiment_id}.>", rec.Job)], rec.Experiment)

    def watch_sweep(self, sweep_id: str) -> AsyncIterator[sweep_pb2.Sweep]:
        """The sweep's current value, then every change; ends when it is terminal."""
        return self._watch([(sweep_key(sweep_id), sweep_pb2.Sweep)], sweep_pb2.Sweep)  # type: ignore[return-value]

    async def _watch(self, keys: list[tuple[str, type[Message]]], ending: type[Message]) -> AsyncIterator[Message]:
        """Values of the watched keys as they change, until a value of kind `ending` has a terminal status."""
        queue: asyncio.Queue[Message] = asyncio.Queue()
        watchers = [await self._kv.watch(key) for key, _ in keys]  # type: ignore[attr-defined]

        async def pump(watcher: object, kind: type[Message]) -> None:
            async for entry in watcher:  # type: ignore[attr-defined]
                if entry is not None and entry.value:
                    await queue.put(kind.FromString(entry.value))

        pumps = [asyncio.create_task(pump(watcher, kind)) for watcher, (_, kind) in zip(watchers, keys, strict=True)]
        try:
            while True:
                update = await queue.get()
                yield update
                if isinstance(update, ending) and update.status in TERMINAL:  # type: ignore[attr-defined]
                    return
        finally:
            for task in pumps:
                task.cancel()
            for watcher in watchers:
                try:
                    await watcher.stop()  # type: ignore[attr-defined]
                except Exception:  # noqa: BLE001 - best effort: the connection may be closing
                    pass

    async def _keys(self, pattern: str) -> list[str]:
        """Keys matching a subject pattern, from the bucket stream's subject list (STREAM.INFO with a filter).

        Not a KV watch: every watch creates a consumer on the bucket's stream, and frequent listings (progress
        polls, the reconciler) used them up faster than the server removed them ("maximum consumers limit
        reached"). A listed key may have been deleted; readers skip those."""
        prefix = f"$KV.{STATE_BUCKET}."
        info = await self._js.stream_info(f"KV_{STATE_BUCKET}", subjects_filter=prefix + pattern)  # type: ignore[attr-defined]
        return sorted(subject.removeprefix(prefix) for subject in (info.state.subjects or {}))

    async def _get_listed(self, keys: list[str], kind: type[M]) -> list[M]:
        """The values of listed keys, skipping any deleted since the listing."""
        values = []
        for key in keys:
            try:
                values.append((await self._get(key, kind))[0])
            except NotFound:
                continue
        return values

    async def _get(self, key: str, kind: type[M]) -> tuple[M, int]:
        try:
            entry = await self._kv.get(key)  # type: ignore[attr-defined]
        except (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
            what = {"exp": "experiment", "job": "job", "catalogue": "catalogue",
                    "sweep": "sweep"}[key.split(".", 1)[0]]
            raise NotFound(f"{what} {key.split('.', 1)[1]!r} not found") from None
        return kind.FromString(entry.value), entry.revision

    async def _update(self, key: str, kind: type[M], mutate: Callable[[M], bool | None]) -> M:
        for _ in range(50):
            value, revision = await self._get(key, kind)
            if mutate(value) is False:
                return value
            try:
                await self._kv.update(key, value.SerializeToString(), last=revision)  # type: ignore[attr-defined]
                return value
            except nats.js.errors.KeyWrongLastSequenceError:
                await asyncio.sleep(0.01)
        raise RuntimeError(f"could not update {key}: too many concurrent writers")
