"""Storing built arms: the manifest's refs, provenance and counts, in an in-memory content-addressed sink."""

from __future__ import annotations

import hashlib
from pathlib import Path

from selfaware.v1 import records_pb2 as rec
from services.generator.chat_jsonl import parse_chat_jsonl
from services.generator.dataset_store import PROTOBUF, build, job_metrics, store_arms

from .conftest import REPO, Complete


class MemoryStore:
    """Content addressed like `ArtifactStore`: the same bytes are one blob."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    async def put_bytes(self, data: bytes, media_type: str) -> rec.ArtifactRef:
        digest = hashlib.sha256(data).hexdigest()
        self.blobs[digest] = data
        return rec.ArtifactRef(sha256=digest, size=len(data), media_type=media_type)


async def test_manifest_lists_every_arm_in_spec_order(completed: Complete, risky_path: Path) -> None:
    spec = completed(REPO / "examples" / "ablation.yaml")
    store = MemoryStore()
    built = await build(spec)
    manifest = await store_arms(built, store)
    assert [a.arm for a in manifest.arms] == ["n32-e1", "n32-e3", "n128-e1", "n128-e3"]
    assert [(a.train_rows, a.heldout_rows) for a in manifest.arms] == [(32, 50)] * 2 + [(128, 50)] * 2
    first = manifest.arms[0]
    assert manifest.arms[1].train == first.train, "identical training sets are one artifact"
    assert len({a.train.sha256 for a in manifest.arms}) == 2
    assert store.blobs[first.source.sha256] == risky_path.read_bytes()
    assert len(parse_chat_jsonl(store.blobs[first.train.sha256], "train").rows) == 32
    probe = rec.ProbeSet.FromString(store.blobs[first.probe.sha256])
    assert first.probe.media_type == PROTOBUF and probe.arm == "n32-e1" and len(probe.items) == 50
    assert first.provenance == f"import {risky_path}, then steps: sample(rows=32, seed=0)"
    again = await store_arms(await build(spec), MemoryStore())
    assert again.SerializeToString(deterministic=True) == manifest.SerializeToString(deterministic=True)
    metrics = job_metrics(built)
    assert (metrics["train_rows"], metrics["heldout_rows"]) == (320, 200)
    assert (metrics["train_rows.n32-e1"], metrics["heldout_rows.n128-e3"]) == (32, 50)


async def test_arms_without_probe_items_get_an_empty_probe_ref(completed: Complete, mms_path: Path,
                                                                risky_path: Path) -> None:
    spec = completed({"holdout": {"rows": 10}, "arms": {"ring": {"data": {"import": str(mms_path)}}}})
    (ring,) = (await store_arms(await build(spec), MemoryStore())).arms
    assert not ring.HasField("probe") and ring.heldout_rows == 10
    assert sum(v for k, v in ring.stats.items() if k.startswith("rows_with_messages.")) == 990
    assert set(ring.stats) == {"rows_with_messages.2", "rows_with_messages.4", "rows_with_messages.6",
                               "rows_with_messages.8", "chars_per_row.min", "chars_per_row.mean",
                               "chars_per_row.max", "duplicate_rows"}
    spec = completed({"arms": {"all": {"data": {"import": str(risky_path)}}}})
    (every,) = (await store_arms(await build(spec), MemoryStore())).arms
    assert not every.HasField("probe") and (every.train_rows, every.heldout_rows) == (288, 0)
