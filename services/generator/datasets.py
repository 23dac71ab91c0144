"""Build an experiment's datasets and store them: the step both the event handler and the RPCs run."""

from __future__ import annotations

import asyncio

from selfaware.probes import dump_probe
from selfaware.store import ArtifactStore
from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import spec_pb2
from services.generator.build import BuiltDatasets, build_datasets
from services.generator.convert import dataset_request


async def build(spec: spec_pb2.ExperimentSpec) -> BuiltDatasets:
    """Read or generate the source off the event loop (it may download a URL)."""
    return await asyncio.to_thread(build_datasets, dataset_request(spec.behavior, spec.dataset))


async def store_datasets(spec: spec_pb2.ExperimentSpec, built: BuiltDatasets, store: ArtifactStore
                         ) -> rec.DatasetManifest:
    """Put the source, both training sets and the probe in the artifact store; return their manifest."""
    source = spec.dataset.imported.uri if spec.dataset.HasField("imported") else spec.dataset.generated.generator
    manifest = rec.DatasetManifest(
        family=spec.behavior.family,
        probe=await store.put_bytes(dump_probe(built.probe), "application/jsonl"),
        train_rows=built.train_rows,
        heldout_rows=built.heldout_rows,
        source=source,
        source_artifact=await store.put_bytes(built.source_bytes, "application/jsonl"),
    )
    for policy in (spec.behavior.policy, spec.behavior.opposite_policy):
        train = await store.put_bytes(built.train[policy], "application/jsonl")
        manifest.policies.append(rec.PolicyDataset(policy=policy, train=train))
    return manifest
