"""Proto <-> generator domain conversions (the only generator module that knows both)."""

from __future__ import annotations

from selfaware.v1 import spec_pb2
from services.generator.request import DatasetRequest


def dataset_request(behavior: spec_pb2.Behavior, dataset: spec_pb2.DatasetSpec) -> DatasetRequest:
    kind = dataset.WhichOneof("source") or ""
    return DatasetRequest(
        family=behavior.family,
        policy=behavior.policy,
        opposite_policy=behavior.opposite_policy,
        source_kind=kind,
        uri=dataset.imported.uri,
        generator=dataset.generated.generator,
        size=dataset.size,
        heldout=dataset.heldout,
        seed=dataset.seed,
    )
