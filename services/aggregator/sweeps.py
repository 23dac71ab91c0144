"""Sweeps: one held experiment per grid cell, admitted a few at a time, and a sweep report once every cell ended.

A sweep is a KV record (`sweep.<id>`) listing its cells; each cell is an ordinary experiment (id derived from
`<sweep id>/<cell key>`) created `held`, so nothing runs until admission (`admission.py`) releases it, and then it
is announced exactly as a single experiment is. A tick (every `sweep_interval_s`, and after each submit) admits
what the slots allow, refreshes the cells' statuses and renders the report of a sweep whose cells all ended.
A sweep and its cells belong to the caller that submitted it (`ownership.py`); a cell counts against its owner's
quotas (`quotas.py`) once admitted: submit refuses a sweep with a cell that could never fit on its own, and
admission leaves a cell held while it does not fit beside the owner's running experiments.

Submit writes the sweep record first and the cell experiments after it; a tick creates any cell experiment a
crash left missing, from the completed spec the record holds. Ticks run one at a time (a lock), so two never
admit into the same free slot. One aggregator replica ticks; the contract runs one.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from selfaware.auth import LOCAL, Principal
from selfaware.errors import FieldViolation, NotFound, QuotaExceeded, SpecError
from selfaware.status import RUNNING, TERMINAL, now
from selfaware.sweeps import MAX_CELLS
from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import spec_pb2, sweep_pb2
from services.aggregator import ownership, quotas
from services.aggregator.admission import SweepLoad, admit
from services.aggregator.experiments import Experiments, id_for
from services.aggregator.sweep_report import SweepCellResult, render_sweep_report

if TYPE_CHECKING:  # handed in by main.py; this module never reaches the transport itself
    from selfaware.state import StateStore
    from selfaware.store import ArtifactStore

log = structlog.get_logger(__name__)

#: A sweep record holds every cell's completed spec in one KV value; NATS refuses values over 1 MiB.
MAX_SWEEP_BYTES = 900 * 1024


@dataclass
class StoredSweep:
    sweep: sweep_pb2.Sweep
    markdown: str
    json: str
    #: File name -> bytes of every figure the Markdown links.
    figures: dict[str, bytes]


def cell_experiment_id(sweep_id: str, cell_key: str) -> str:
    return id_for(f"{sweep_id}/{cell_key}")


class Sweeps:
    def __init__(self, state: StateStore, store: ArtifactStore, experiments: Experiments, *, slots: int) -> None:
        self.state, self.store, self.experiments, self.slots = state, store, experiments, slots
        self._ticking = asyncio.Lock()

    async def submit(self, spec: sweep_pb2.SweepSpec, idempotency_key: str = "", owner: str = LOCAL.subject
                     ) -> sweep_pb2.Sweep:
        """Validate every cell and check that each fits `owner`'s quotas on its own, before any side effect;
        store the sweep (adding only cells it lacks), create the missing cells' experiments held, then admit
        what the slots (and the owner's quotas) allow."""
        shape = _shape_violations(spec)
        if shape:
            raise SpecError(shape)
        completed, bad = [], []
        for i, cell in enumerate(spec.cells):
            done, violations = await self.experiments.validate(cell.spec)
            bad += [FieldViolation(f"cells[{i}].spec.{v.field}", v.description) for v in violations]
            completed.append(done)
        if bad:
            raise SpecError(bad)
        sweep_id = id_for(f"sweep:{idempotency_key}", owner) if idempotency_key else uuid.uuid4().hex[:12]
        for i, (cell, done) in enumerate(zip(spec.cells, completed, strict=True)):
            cost = await self.experiments.cost(cell_experiment_id(sweep_id, cell.key), done)
            if why := quotas.alone_problem(owner, cost, self.experiments.limits):
                raise QuotaExceeded(f"cells[{i}] ({cell.key}): {why}")
            if await self.experiments.differs(cell_experiment_id(sweep_id, cell.key), done):
                raise SpecError.single(f"cells[{i}]", f"({cell.key}): sweep {sweep_id} already has this cell with a "
                                       "different spec; change the sweep's name to start another sweep")
        submitted = sweep_pb2.SweepSpec()
        submitted.CopyFrom(spec)
        for cell, done in zip(submitted.cells, completed, strict=True):
            cell.spec.CopyFrom(done)
        sweep = await self._store(sweep_id, submitted, owner)
        for cell in sweep.spec.cells:
            await self._cell_experiment(sweep, cell)
        await self.tick()
        return await self.state.get_sweep(sweep_id)

    async def record(self, sweep_id: str, principal: Principal) -> sweep_pb2.Sweep:
        """The sweep alone (NOT_FOUND for an unknown id, PERMISSION_DENIED unless `principal` may see it), without
        its report's files."""
        sweep = await self.state.get_sweep(sweep_id)
        ownership.check(principal, sweep.owner, f"sweep {sweep_id}")
        return sweep

    async def get(self, sweep_id: str, principal: Principal) -> StoredSweep:
        """The sweep, and its report's files once it has one."""
        sweep = await self.record(sweep_id, principal)
        if not sweep.HasField("report"):
            return StoredSweep(sweep, "", "", {})
        r, get = sweep.report, self.store.get_bytes
        return StoredSweep(sweep, (await get(r.markdown)).decode(), (await get(r.json)).decode(),
                           {f.name: await get(f.file) for f in r.figures})

    async def list(self, principal: Principal) -> list[sweep_pb2.Sweep]:
        """The sweeps `principal` may see: its own, or all for an admin."""
        return ownership.visible(principal, await self.state.list_sweeps(), lambda sweep: sweep.owner)

    def watch(self, sweep_id: str) -> AsyncIterator[sweep_pb2.Sweep]:
        return self.state.watch_sweep(sweep_id)

    async def tick(self) -> None:
        """Admit what the slots allow, then refresh every unfinished sweep (and report those whose cells ended)."""
        async with self._ticking, self.experiments.quota_lock:
            sweeps = [s for s in await self.state.list_sweeps() if s.status not in TERMINAL]
            loads, held = [], {}
            for sweep in sweeps:
                cells = [await self._cell_experiment(sweep, cell) for cell in sweep.spec.cells]
                held |= {e.id: e for e in cells if e.held and e.status not in TERMINAL}
                loads.append(SweepLoad(
                    sweep.id, sweep.spec.priority, sweep.spec.max_running, sweep.created_at.ToNanoseconds(),
                    running=sum(1 for e in cells if not e.held and e.status not in TERMINAL),
                    held=tuple(e.id for e in cells if e.held and e.status not in TERMINAL)))
            usage = {owner: await self.experiments.usage(owner) for owner in {e.owner for e in held.values()}}
            costs = {e.id: await self.experiments.cost(e.id, e.spec) for e in held.values()}

            def fits(experiment_id: str) -> bool:
                owner = held[experiment_id].owner
                if why := quotas.problem(owner, usage[owner], costs[experiment_id], self.experiments.limits):
                    log.info("sweep_cell_waits_for_quota", experiment_id=experiment_id, why=why)
                    return False
                usage[owner].add(costs[experiment_id])
                return True

            for experiment_id in admit(loads, self.slots, fits):
                await self.experiments.release(experiment_id)
            for sweep in sweeps:
                await self._refresh(sweep.id)

    async def run(self, interval_s: float) -> None:
        """Tick every `interval_s` until cancelled; a failed tick is retried on the next."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.tick()
            except Exception:  # noqa: BLE001 - the next tick retries; NATS may be restarting
                log.warning("sweep_tick_failed", exc_info=True)

    async def _store(self, sweep_id: str, spec: sweep_pb2.SweepSpec, owner: str) -> sweep_pb2.Sweep:
        """Create the sweep, or add the cells it lacks to the stored one (the latest priority, cap and report
        settings win); a sweep that gains cells runs again and its report is rendered anew."""
        sweep = sweep_pb2.Sweep(id=sweep_id, spec=spec, status=rec.EXPERIMENT_STATUS_GENERATING,
                                created_at=now(), updated_at=now(), owner=owner,
                                cells=[sweep_pb2.SweepCellState(key=c.key, held=True,
                                                                experiment_id=cell_experiment_id(sweep_id, c.key),
                                                                status=rec.EXPERIMENT_STATUS_GENERATING)
                                       for c in spec.cells])
        _check_size(sweep)
        if await self.state.create_sweep(sweep):
            log.info("sweep_submitted", sweep_id=sweep_id, name=spec.name, cells=len(spec.cells))
            return sweep

        def merge(stored: sweep_pb2.Sweep) -> bool:
            ownership.check(Principal(owner), stored.owner, f"sweep {sweep_id}")
            known = {cell.key for cell in stored.spec.cells}
            added = [i for i, cell in enumerate(spec.cells) if cell.key not in known]
            for i in added:
                stored.spec.cells.append(spec.cells[i])
                stored.cells.append(sweep.cells[i])
            stored.spec.name, stored.spec.priority, stored.spec.max_running = spec.name, spec.priority, \
                spec.max_running
            stored.spec.report.CopyFrom(spec.report)
            stored.spec.ClearField("axes")
            stored.spec.axes.extend(spec.axes)
            if added:
                stored.status = rec.EXPERIMENT_STATUS_GENERATING
                stored.ClearField("report")
                stored.error = ""
            stored.updated_at.CopyFrom(now())
            _check_size(stored)
            log.info("sweep_resubmitted", sweep_id=sweep_id, added=[spec.cells[i].key for i in added])
            return True

        return await self.state.update_sweep(sweep_id, merge)

    async def _cell_experiment(self, sweep: sweep_pb2.Sweep, cell: sweep_pb2.SweepCell) -> rec.Experiment:
        """The cell's experiment, created held (owned by the sweep's owner) from the cell's completed spec if it
        does not exist yet."""
        experiment_id = cell_experiment_id(sweep.id, cell.key)
        try:
            return await self.state.get_experiment(experiment_id)
        except NotFound:
            return await self.experiments.create(experiment_id, cell.spec, "idempotency_key", sweep_id=sweep.id,
                                                 held=True, owner=sweep.owner)

    async def _refresh(self, sweep_id: str) -> None:
        """Copy the cells' statuses onto the sweep; once every cell ended, render and attach the report."""
        sweep = await self.state.get_sweep(sweep_id)
        cells = [await self.state.get_experiment(state.experiment_id) for state in sweep.cells]
        report, error = None, ""
        outcome = all(e.status in TERMINAL for e in cells) and not sweep.HasField("report")
        if outcome:
            report, error = await self._report(sweep, cells)

        def update(stored: sweep_pb2.Sweep) -> bool:
            if stored.status in TERMINAL or len(stored.cells) != len(cells):
                return False  # ended meanwhile, or a resubmission added cells: the next tick sees them
            before = stored.SerializeToString(deterministic=True)
            for state, experiment in zip(stored.cells, cells, strict=True):
                state.status, state.held = experiment.status, experiment.held
            running = [e.status for e in cells if e.status not in TERMINAL]
            stored.status = min(running, key=_progress) if running else rec.EXPERIMENT_STATUS_REPORTING
            if outcome:
                if report is not None:
                    stored.report.CopyFrom(report)
                stored.status = rec.EXPERIMENT_STATUS_FAILED if error else rec.EXPERIMENT_STATUS_SUCCEEDED
                stored.error = error
            if stored.SerializeToString(deterministic=True) == before:
                return False
            stored.updated_at.CopyFrom(now())
            return True

        updated = await self.state.update_sweep(sweep_id, update)
        if updated.status in TERMINAL and outcome:
            log.info("sweep_ended", sweep_id=sweep_id, status=rec.ExperimentStatus.Name(updated.status),
                     error=updated.error)

    async def _report(self, sweep: sweep_pb2.Sweep, cells: list[rec.Experiment]) -> tuple[rec.Report | None, str]:
        """Render the sweep report from the cells' reports and store its files; the error names the cells that
        did not succeed (empty when all did). A report that cannot be rendered fails the sweep (no report);
        a store that cannot be reached raises, and the next tick tries again."""
        results = []
        for cell, experiment in zip(sweep.spec.cells, cells, strict=True):
            succeeded = experiment.status == rec.EXPERIMENT_STATUS_SUCCEEDED and experiment.HasField("report")
            document = json.loads(await self.store.get_bytes(experiment.report.json)) if succeeded else None
            results.append(SweepCellResult(key=cell.key, params={axis: cell.params[axis] for axis in sweep.spec.axes
                                                                 if axis in cell.params},
                                           experiment_id=experiment.id,
                                           status=rec.ExperimentStatus.Name(experiment.status).removeprefix(
                                               "EXPERIMENT_STATUS_"),
                                           report=document))
        spec = sweep.spec
        try:
            files = await asyncio.to_thread(render_sweep_report, spec.name, list(spec.axes), results,
                                            x=spec.report.x, behaviour=spec.report.behaviour,
                                            self_report=spec.report.self_report)
        except Exception as exc:  # noqa: BLE001 - a bug or bad data: rendering again would fail the same way
            log.exception("sweep_report_failed", sweep_id=sweep.id)
            return None, f"the sweep report could not be rendered: {type(exc).__name__}: {exc}"
        report = rec.Report(
            markdown=await self.store.put_bytes(files.markdown.encode(), "text/markdown"),
            json=await self.store.put_bytes(files.json.encode(), "application/json"),
            figures=[rec.ReportFigure(name=name, file=await self.store.put_bytes(
                data, "image/svg+xml" if name.endswith(".svg") else "image/png"))
                for name, data in files.figures.items()])
        failed = [f"{r.key} ({r.status.lower()})" for r in results if r.status != "SUCCEEDED"]
        error = f"{len(failed)} of {len(results)} cells did not succeed: {', '.join(failed)}" if failed else ""
        return report, error


def _progress(status: int) -> int:
    return RUNNING.index(status) if status in RUNNING else 0


def _shape_violations(spec: sweep_pb2.SweepSpec) -> list[FieldViolation]:
    """What is wrong with a sweep before its cells' specs are looked at."""
    bad = []
    if not spec.name.strip():
        bad.append(FieldViolation("name", "give the sweep a name"))
    if not spec.cells:
        bad.append(FieldViolation("cells", "a sweep has at least one cell"))
    if len(spec.cells) > MAX_CELLS:
        bad.append(FieldViolation("cells", f"has {len(spec.cells)} cells; at most {MAX_CELLS}"))
    keys = [cell.key for cell in spec.cells]
    for i, cell in enumerate(spec.cells):
        if not cell.key:
            bad.append(FieldViolation(f"cells[{i}].key", "every cell needs a key"))
        elif keys.count(cell.key) > 1:
            bad.append(FieldViolation(f"cells[{i}].key", f"{cell.key!r} is used by more than one cell"))
        unknown = sorted(set(cell.params) - set(spec.axes))
        if unknown:
            bad.append(FieldViolation(f"cells[{i}].params", f"{', '.join(unknown)} are not axes of the sweep"))
        if cell.spec == spec_pb2.ExperimentSpec():
            bad.append(FieldViolation(f"cells[{i}].spec", "every cell needs its experiment spec"))
    return bad


def _check_size(sweep: sweep_pb2.Sweep) -> None:
    size = sweep.ByteSize()
    if size > MAX_SWEEP_BYTES:
        raise SpecError.single("cells", f"the sweep with its cells' completed specs is {size} bytes; at most "
                                        f"{MAX_SWEEP_BYTES} (it is stored in one record)")
