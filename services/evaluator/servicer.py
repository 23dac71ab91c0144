"""EvaluatorService: the suites and engines this evaluator knows, and an experiment's finished evaluations."""

from __future__ import annotations

import grpc

from selfaware.grpc_server import rpc
from selfaware.plan import attach_trained, eval_job, planned_models
from selfaware.state import StateStore
from selfaware.v1 import evaluator_pb2 as pb
from selfaware.v1 import evaluator_pb2_grpc
from selfaware.v1 import records_pb2 as rec
from services.evaluator import convert
from services.evaluator.engines import ENGINES
from services.evaluator.suites import SUITES


class EvaluatorServicer(evaluator_pb2_grpc.EvaluatorServiceServicer):
    def __init__(self, state: StateStore) -> None:
        self.state = state

    @rpc
    async def ListSuites(self, request: pb.ListSuitesRequest, context: grpc.aio.ServicerContext
                         ) -> pb.ListSuitesResponse:
        suites = [SUITES.get(name)() for name in SUITES.names()]
        return pb.ListSuitesResponse(
            suites=[pb.SuiteInfo(name=s.name, description=s.description, kind=s.kind) for s in suites],
            backends=ENGINES.names())

    @rpc
    async def ListEvaluations(self, request: pb.ListEvaluationsRequest, context: grpc.aio.ServicerContext
                              ) -> pb.ListEvaluationsResponse:
        spec = (await self.state.get_experiment(request.experiment_id)).spec
        jobs = {j.key: j for j in await self.state.list_jobs(request.experiment_id)}
        evaluations = []
        for model in planned_models(spec):
            job = jobs.get(eval_job(model.label))
            if job is None or job.status != rec.JOB_STATUS_SUCCEEDED:
                continue
            if model.arm:
                attach_trained(model, jobs)
            evaluations.append(convert.evaluation_completed(request.experiment_id, spec, model, job))
        return pb.ListEvaluationsResponse(evaluations=evaluations)
