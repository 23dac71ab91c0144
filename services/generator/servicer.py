"""GeneratorService: preview an experiment's arms before submitting, and read an experiment's manifest."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc

from selfaware.errors import DataError, FieldViolation, NotFound, SpecError, TooLarge
from selfaware.grpc_server import rpc
from selfaware.plan import DATASET_JOB
from selfaware.service import Runtime
from selfaware.sources import unreadable
from selfaware.v1 import generator_pb2 as pb
from selfaware.v1 import generator_pb2_grpc, spec_pb2
from selfaware.v1 import records_pb2 as rec
from services.generator.dataset_store import build


def _unreadable_imports(spec: spec_pb2.ExperimentSpec) -> list[FieldViolation]:
    """Every arm whose imported source cannot be read, with the field path the contract fuzzer asks for."""
    return [FieldViolation(f"arms.{arm.name}.data.import", problem) for arm in spec.arms
            if arm.data.WhichOneof("source") == "import_uri" and (problem := unreadable(arm.data.import_uri))]


def _data_field(spec: spec_pb2.ExperimentSpec, error: DataError) -> str:
    """The field a malformed dataset is answered under: the arm importing the file the error names, else
    `arms` (a generator's or a step's data), so that the INVALID_ARGUMENT names a field as the contract asks."""
    for arm in spec.arms:
        if arm.data.WhichOneof("source") == "import_uri" and arm.data.import_uri and arm.data.import_uri in str(error):
            return f"arms.{arm.name}.data.import"
    return "arms"


class GeneratorServicer(generator_pb2_grpc.GeneratorServiceServicer):
    def __init__(self, runtime: Runtime, data_dir: Path | None = None) -> None:
        """`data_dir`: the service's data folder, whose caches a preview shares with the dataset jobs."""
        self.rt = runtime
        self.data_dir = data_dir

    @rpc
    async def PreviewDataset(self, request: pb.PreviewDatasetRequest, context: grpc.aio.ServicerContext
                             ) -> pb.PreviewDatasetResponse:
        if bad := await asyncio.to_thread(_unreadable_imports, request.spec):
            raise SpecError(bad)  # named here, as SubmitExperiment names them; build's DataError names no field
        try:
            built = await build(request.spec, self.data_dir)
        except DataError as error:
            if isinstance(error, TooLarge):
                raise
            raise SpecError.single(_data_field(request.spec, error), str(error)) from error
        limit = request.limit or 3
        return pb.PreviewDatasetResponse(arms=[
            pb.ArmPreview(arm=arm.arm, train_rows=len(arm.train), heldout_rows=len(arm.heldout),
                          provenance=arm.provenance, rows=[row.to_json() for row in arm.train[:limit]],
                          stats=arm.stats())
            for arm in built])

    @rpc
    async def GetDatasetManifest(self, request: pb.GetDatasetManifestRequest, context: grpc.aio.ServicerContext
                                 ) -> rec.DatasetManifest:
        job = await self.rt.state.get_job(request.experiment_id, DATASET_JOB)
        if job.status != rec.JOB_STATUS_SUCCEEDED:
            raise NotFound(f"experiment {request.experiment_id} has no datasets yet")
        return rec.DatasetManifest.FromString(await self.rt.store.get_bytes(job.artifact))
