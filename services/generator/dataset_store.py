"""Build an experiment's arms off the event loop and store them: what the event handler and the RPCs run."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import spec_pb2
from services.generator.recipes import BuiltArm, build_arms

JSONL = "application/jsonl"
PROTOBUF = "application/x-protobuf"


class ArtifactSink(Protocol):
    """The part of `selfaware.store.ArtifactStore` this module needs (it is content addressed: putting the
    same bytes twice stores them once)."""

    async def put_bytes(self, data: bytes, media_type: str) -> rec.ArtifactRef: ...


async def build(spec: spec_pb2.ExperimentSpec, data_dir: Path | None = None, experiment_id: str = ""
                ) -> list[BuiltArm]:
    """`build_arms` in a worker thread: it may download a URL and parse large files.

    `data_dir`: the service's data folder; its `generator-cache/` holds caches shared by every experiment (a
    judge's answers), and `generator-scratch/<experiment_id>/` an experiment's resumable work (when the id is
    given). None: neither.
    """
    cache_dir = data_dir / "generator-cache" if data_dir is not None else None
    scratch = data_dir / "generator-scratch" / experiment_id if data_dir is not None and experiment_id else None
    return await asyncio.to_thread(build_arms, spec, scratch, cache_dir)


async def store_arms(built: Sequence[BuiltArm], store: ArtifactSink) -> rec.DatasetManifest:
    """Store every arm's training set, probe and root source; return their manifest, in spec order.

    An arm whose held-out rows make no probe item (no holdout, or free-text data) gets an empty probe ref.
    """
    manifest = rec.DatasetManifest()
    for arm in built:
        dataset = manifest.arms.add(
            arm=arm.arm,
            train=await store.put_bytes(arm.train_jsonl(), JSONL),
            train_rows=len(arm.train),
            heldout_rows=len(arm.heldout),
            provenance=arm.provenance,
            source=await store.put_bytes(arm.source, JSONL),
            stats=arm.stats(),
            counts=[rec.Count(name=name, value=value) for name, value in arm.counts.items()],
        )
        if arm.probe.items:
            dataset.probe.CopyFrom(await store.put_bytes(arm.probe.SerializeToString(deterministic=True),
                                                         PROTOBUF))
    return manifest


def job_metrics(built: Sequence[BuiltArm]) -> dict[str, float]:
    """The dataset job's metrics: row counts summed over the arms, and per arm (`train_rows.<arm>`), what
    each arm's filters took (`count.<arm>.<counter>`, e.g. `count.risky.dropped_disagreeing` from a
    generator, `count.risky.steps[1].filter.dropped` from a step: `BuiltArm.counts`), and the shape of its
    training rows (`stats.<arm>.<key>`, e.g. `stats.ring.rows_with_messages.4`: `BuiltArm.stats`)."""
    metrics = {"train_rows": float(sum(len(a.train) for a in built)),
               "heldout_rows": float(sum(len(a.heldout) for a in built))}
    for arm in built:
        metrics[f"train_rows.{arm.arm}"] = float(len(arm.train))
        metrics[f"heldout_rows.{arm.arm}"] = float(len(arm.heldout))
        metrics |= {f"count.{arm.arm}.{counter}": float(value) for counter, value in arm.counts.items()}
        metrics |= {f"stats.{arm.arm}.{key}": value for key, value in arm.stats().items()}
    return metrics
