"""EvaluatorService: the suites and engines this evaluator knows, and an experiment's finished evaluations."""

from __future__ import annotations

import grpc

from selfaware.grpc_server import rpc
from selfaware.state import StateStore
from selfaware.v1 import evaluator_pb2 as pb
from selfaware.v1 import evaluator_pb2_grpc
from selfaware.v1 import events_pb2 as ev
from selfaware.v1 import records_pb2 as rec
from services.evaluator import convert
from services.evaluator.engines import ENGINES
from services.evaluator.suites import suite_descriptions


class EvaluatorServicer(evaluator_pb2_grpc.EvaluatorServiceServicer):
    def __init__(self, state: StateStore) -> None:
        self.state = state

    @rpc
    async def ListSuites(self, request: pb.ListSuitesRequest, context: grpc.aio.ServicerContext
                         ) -> pb.ListSuitesResponse:
        suites = [pb.SuiteInfo(name=s.name, description=s.description, kind=s.kind) for s in suite_descriptions()]
        return pb.ListSuitesResponse(suites=suites, backends=ENGINES.names())

    @rpc
    async def ListEvaluations(self, request: pb.ListEvaluationsRequest, context: grpc.aio.ServicerContext
                              ) -> pb.ListEvaluationsResponse:
        jobs = await self.state.list_jobs(request.experiment_id)
        done = [j for j in jobs if j.stage == rec.STAGE_EVALUATE and j.status == rec.JOB_STATUS_SUCCEEDED]
        return pb.ListEvaluationsResponse(evaluations=[
            ev.EvaluationCompleted(experiment_id=j.experiment_id, model=rec.ModelUnderTest(label=j.model),
                                   records=j.artifact, scores=convert.scores_from_metrics(dict(j.metrics)))
            for j in done
        ])
