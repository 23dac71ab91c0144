"""AggregatorService: the experiment API clients use. Each method converts, calls Experiments (or Sweeps,
DeadLetters), converts back. The caller (`current_principal()`, bound by the auth layer) owns what it submits and
is checked against the owner of what it reads or changes (`ownership.py`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from selfaware.auth import current_principal
from selfaware.grpc_server import rpc
from selfaware.plan import plan_jobs
from selfaware.v1 import aggregator_pb2 as pb
from selfaware.v1 import aggregator_pb2_grpc, sweep_pb2
from selfaware.v1 import records_pb2 as rec
from services.aggregator import ownership
from services.aggregator.dead_letters import DeadLetters
from services.aggregator.experiments import Experiments
from services.aggregator.report_job import Reporter
from services.aggregator.sweeps import Sweeps


class AggregatorServicer(aggregator_pb2_grpc.AggregatorServiceServicer):
    def __init__(self, experiments: Experiments, reporter: Reporter, dead_letters: DeadLetters, sweeps: Sweeps
                 ) -> None:
        self.experiments, self.reporter, self.dead_letters, self.sweeps = experiments, reporter, dead_letters, sweeps

    @rpc
    async def SubmitExperiment(self, request: pb.SubmitExperimentRequest, context: grpc.aio.ServicerContext
                               ) -> rec.Experiment:
        return await self.experiments.submit(request.spec, idempotency_key=request.idempotency_key,
                                             owner=current_principal().subject)

    @rpc
    async def ValidateExperiment(self, request: pb.ValidateExperimentRequest, context: grpc.aio.ServicerContext
                                 ) -> pb.ValidateExperimentResponse:
        completed, violations = await self.experiments.validate(request.spec)
        if violations:
            return pb.ValidateExperimentResponse(
                violations=[pb.Violation(field=v.field, description=v.description) for v in violations])
        jobs = [job.key for job in plan_jobs("", completed)]
        return pb.ValidateExperimentResponse(completed=completed, jobs=jobs)

    @rpc
    async def GetCatalogue(self, request: pb.GetCatalogueRequest, context: grpc.aio.ServicerContext
                           ) -> pb.GetCatalogueResponse:
        return pb.GetCatalogueResponse(catalogues=await self.experiments.catalogues())

    @rpc
    async def GetExperiment(self, request: pb.GetExperimentRequest, context: grpc.aio.ServicerContext
                            ) -> pb.GetExperimentResponse:
        experiment = await self.experiments.owned(request.experiment_id, current_principal())
        return pb.GetExperimentResponse(experiment=experiment, jobs=await self.experiments.jobs(request.experiment_id))

    @rpc
    async def WatchExperiment(self, request: pb.WatchExperimentRequest, context: grpc.aio.ServicerContext
                              ) -> AsyncIterator[pb.WatchExperimentResponse]:
        # NOT_FOUND or PERMISSION_DENIED before the stream starts
        await self.experiments.owned(request.experiment_id, current_principal())
        async for update in self.experiments.watch(request.experiment_id):
            if isinstance(update, rec.Experiment):
                yield pb.WatchExperimentResponse(experiment=update)
            else:
                yield pb.WatchExperimentResponse(job=update)

    @rpc
    async def ListExperiments(self, request: pb.ListExperimentsRequest, context: grpc.aio.ServicerContext
                              ) -> pb.ListExperimentsResponse:
        return pb.ListExperimentsResponse(experiments=ownership.visible(
            current_principal(), await self.experiments.list(), lambda experiment: experiment.owner))

    @rpc
    async def CancelExperiment(self, request: pb.CancelExperimentRequest, context: grpc.aio.ServicerContext
                               ) -> rec.Experiment:
        await self.experiments.owned(request.experiment_id, current_principal())
        return await self.experiments.cancel(request.experiment_id, request.reason)

    @rpc
    async def GetReport(self, request: pb.GetReportRequest, context: grpc.aio.ServicerContext
                        ) -> pb.GetReportResponse:
        await self.experiments.owned(request.experiment_id, current_principal())
        files = await self.reporter.load(request.experiment_id)
        return pb.GetReportResponse(report=files.report, markdown=files.markdown, json=files.json, png=files.png,
                                    figures=[pb.FigureData(name=name, data=data)
                                             for name, data in files.figures.items()])

    @rpc
    async def ListDeadLetters(self, request: pb.ListDeadLettersRequest, context: grpc.aio.ServicerContext
                              ) -> pb.ListDeadLettersResponse:
        page = await self.dead_letters.list(current_principal(), request.start_seq, request.limit)
        letters = []
        for stored in page.letters:
            letters.append(pb.StoredDeadLetter(seq=stored.seq, letter=stored.letter))
            letters[-1].dead_lettered_at.FromDatetime(stored.dead_lettered_at)
        return pb.ListDeadLettersResponse(letters=letters, total=page.total)

    @rpc
    async def ReplayDeadLetter(self, request: pb.ReplayDeadLetterRequest, context: grpc.aio.ServicerContext
                               ) -> pb.ReplayDeadLetterResponse:
        replayed = await self.dead_letters.replay(request.seq, current_principal())
        return pb.ReplayDeadLetterResponse(subject=replayed.subject, event_seq=replayed.event_seq)

    @rpc
    async def PurgeDeadLetters(self, request: pb.PurgeDeadLettersRequest, context: grpc.aio.ServicerContext
                               ) -> pb.PurgeDeadLettersResponse:
        principal = current_principal()
        if not principal.is_admin:  # an admin may also purge the letters of an id no experiment has
            await self.experiments.owned(request.experiment_id, principal)
        return pb.PurgeDeadLettersResponse(purged=await self.dead_letters.purge(request.experiment_id))

    @rpc
    async def SubmitSweep(self, request: pb.SubmitSweepRequest, context: grpc.aio.ServicerContext
                          ) -> sweep_pb2.Sweep:
        return await self.sweeps.submit(request.spec, idempotency_key=request.idempotency_key,
                                        owner=current_principal().subject)

    @rpc
    async def GetSweep(self, request: pb.GetSweepRequest, context: grpc.aio.ServicerContext) -> pb.GetSweepResponse:
        stored = await self.sweeps.get(request.sweep_id, current_principal())
        return pb.GetSweepResponse(sweep=stored.sweep, markdown=stored.markdown, json=stored.json,
                                   figures=[pb.FigureData(name=name, data=data)
                                            for name, data in stored.figures.items()])

    @rpc
    async def WatchSweep(self, request: pb.WatchSweepRequest, context: grpc.aio.ServicerContext
                         ) -> AsyncIterator[sweep_pb2.Sweep]:
        # NOT_FOUND or PERMISSION_DENIED before the stream starts (no report files read)
        await self.sweeps.record(request.sweep_id, current_principal())
        async for sweep in self.sweeps.watch(request.sweep_id):
            yield sweep

    @rpc
    async def ListSweeps(self, request: pb.ListSweepsRequest, context: grpc.aio.ServicerContext
                         ) -> pb.ListSweepsResponse:
        return pb.ListSweepsResponse(sweeps=await self.sweeps.list(current_principal()))
