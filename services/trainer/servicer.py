"""TrainerService: thin RPCs over the state bucket and the backend registry."""

from __future__ import annotations

import grpc

from selfaware.grpc_server import rpc
from selfaware.state import StateStore
from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import trainer_pb2 as pb
from selfaware.v1 import trainer_pb2_grpc
from services.trainer.backends import BACKENDS


class TrainerServicer(trainer_pb2_grpc.TrainerServiceServicer):
    def __init__(self, state: StateStore) -> None:
        self.state = state

    @rpc
    async def ListBackends(self, request: pb.ListBackendsRequest, context: grpc.aio.ServicerContext
                           ) -> pb.ListBackendsResponse:
        return pb.ListBackendsResponse(backends=BACKENDS.names())

    @rpc
    async def ListTrainingJobs(self, request: pb.ListTrainingJobsRequest, context: grpc.aio.ServicerContext
                               ) -> pb.ListTrainingJobsResponse:
        jobs = await self.state.list_jobs(request.experiment_id)
        return pb.ListTrainingJobsResponse(jobs=[j for j in jobs if j.stage == rec.STAGE_TRAIN])
