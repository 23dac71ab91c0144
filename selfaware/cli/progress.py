"""Progress display for a watched experiment (one bar per stage) or sweep (one bar per cell) on a terminal, plain
lines otherwise.

Training progress counts optimiser steps across all training jobs; the other stages count jobs. A sweep's cell
advances one step per stage its experiment has reached.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from selfaware.status import JOB_TERMINAL, RUNNING, TERMINAL
from selfaware.v1 import aggregator_pb2 as pb
from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import sweep_pb2

STAGES = [(rec.STAGE_GENERATE, "generate"), (rec.STAGE_TRAIN, "train"), (rec.STAGE_EVALUATE, "evaluate"),
          (rec.STAGE_REPORT, "report")]


def stage_totals(jobs: dict[str, rec.Job], stage: int) -> tuple[int, int, str]:
    """(done, total, note) of one stage; training counts steps once they are known."""
    members = [j for j in jobs.values() if j.stage == stage]
    note = ""
    running = [j for j in members if j.status == rec.JOB_STATUS_RUNNING]
    if running:
        job = running[0]
        loss = f" loss {job.metrics['loss']:.3f}" if "loss" in job.metrics else ""
        note = f"{job.model or job.key}{loss} {job.message}".strip()
    if stage == rec.STAGE_TRAIN and members and all(j.total for j in members):
        return sum(j.done for j in members), sum(j.total for j in members), note
    done = sum(1 for j in members if j.status in JOB_TERMINAL)
    return done, len(members), note


def cell_progress(cell: sweep_pb2.SweepCellState) -> tuple[int, str]:
    """(steps done of len(RUNNING) + 1, status word) of one sweep cell: held, then each running status, then
    ended."""
    word = rec.ExperimentStatus.Name(cell.status).removeprefix("EXPERIMENT_STATUS_").lower()
    if cell.status in TERMINAL:
        return len(RUNNING) + 1, word
    if cell.held:
        return 0, "held"
    return (RUNNING.index(cell.status) + 1 if cell.status in RUNNING else 1), word


async def follow_sweep(updates: AsyncIterator[sweep_pb2.Sweep], console: Console) -> sweep_pb2.Sweep:
    """Render a sweep's cells until it ends; return its final state."""
    sweep = sweep_pb2.Sweep()
    if not console.is_terminal:
        shown: dict[str, str] = {}
        async for sweep in updates:
            for cell in sweep.cells:
                word = cell_progress(cell)[1]
                if shown.get(cell.key) != word:
                    shown[cell.key] = word
                    console.print(f"  {cell.key:<40} {cell.experiment_id} {word}")
            if sweep.status in TERMINAL:
                break
        return sweep
    columns = [TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[note]}"),
               TimeElapsedColumn()]
    with Progress(*columns, console=console) as bars:
        tasks: dict[str, Any] = {}
        async for sweep in updates:
            for cell in sweep.cells:
                if cell.key not in tasks:
                    tasks[cell.key] = bars.add_task(cell.key, total=len(RUNNING) + 1, note="")
                done, word = cell_progress(cell)
                bars.update(tasks[cell.key], completed=done, note=f"{word} {cell.experiment_id}")
            if sweep.status in TERMINAL:
                break
    return sweep


async def follow(updates: AsyncIterator[pb.WatchExperimentResponse], console: Console) -> rec.Experiment:
    """Render updates until the experiment ends; return its final state."""
    jobs: dict[str, rec.Job] = {}
    experiment = rec.Experiment()
    if not console.is_terminal:
        return await _follow_plain(updates, console, jobs)
    columns = [TextColumn("{task.description:<9}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[note]}")]
    with Progress(*columns, console=console) as bars:
        tasks = {stage: bars.add_task(name, total=None, note="") for stage, name in STAGES}
        async for update in updates:
            if update.HasField("job"):
                jobs[update.job.key] = update.job
            else:
                experiment = update.experiment
            for stage, task in tasks.items():
                done, total, note = stage_totals(jobs, stage)
                bars.update(task, completed=done, total=total or None, note=note[:60])
            if experiment.status in TERMINAL:
                break
    return experiment


async def _follow_plain(updates: AsyncIterator[pb.WatchExperimentResponse], console: Console,
                        jobs: dict[str, rec.Job]) -> rec.Experiment:
    experiment = rec.Experiment()
    reported: dict[str, tuple[int, int]] = {}
    async for update in updates:
        if update.HasField("experiment"):
            if update.experiment.status != experiment.status:
                console.print(f"experiment {update.experiment.id}: "
                              f"{rec.ExperimentStatus.Name(update.experiment.status).removeprefix('EXPERIMENT_STATUS_')}")
            experiment = update.experiment
            if experiment.status in TERMINAL:
                break
            continue
        job = update.job
        jobs[job.key] = job
        tenth = job.done * 10 // job.total if job.total else 0
        marker = (job.status, tenth)
        if reported.get(job.key) != marker:
            reported[job.key] = marker
            status = rec.JobStatus.Name(job.status).removeprefix("JOB_STATUS_").lower()
            progress = f" {job.done}/{job.total}" if job.total else ""
            console.print(f"  {job.key:<28} {status}{progress} {job.message}".rstrip())
    return experiment
