"""Who may call what on a real aggregator (issue 13, item 2): every aggregator RPC as the owner of its target
(alice), another user (bob), an admin, and a caller without a token. The owner and an admin get past the check (OK,
or the RPC's own answer, e.g. NOT_FOUND for a report that does not exist yet), another user gets
PERMISSION_DENIED without learning the owner, an anonymous caller UNAUTHENTICATED; the List RPCs show each caller
its own entries and an admin everything."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import nats
import pytest
import yaml

from selfaware.specs import spec_from_dict
from selfaware.sweeps import load_sweep_file
from selfaware.v1 import aggregator_pb2 as pb
from selfaware.v1 import events_pb2 as ev
from tests.service.authz import ROLES, LoneAggregator, start_aggregator
from tests.service.conftest import tiny_spec_dict

OK = "OK"


class World:
    """alice's things on the aggregator, made fresh for each RPC that changes them."""

    def __init__(self, aggregator: LoneAggregator, folder: Path, spec: dict[str, Any]) -> None:
        self.agg, self.folder, self.spec = aggregator, folder, spec
        self.made = 0

    async def experiment(self) -> str:
        self.made += 1
        spec = spec_from_dict({**self.spec, "name": f"alice {self.made}"})
        return (await self.agg.call("SubmitExperiment", pb.SubmitExperimentRequest(spec=spec), "owner")).id

    async def sweep(self) -> str:
        self.made += 1
        path = self.folder / f"sweep{self.made}.yaml"
        path.write_text(_yaml({"name": f"alice sweep {self.made}", "experiment": self.spec,
                               "grid": {"training.epochs": [1]}}))
        request = pb.SubmitSweepRequest(spec=load_sweep_file(path), idempotency_key=f"sweep:{self.made}")
        return (await self.agg.call("SubmitSweep", request, "owner")).id

    async def letter(self) -> tuple[str, int]:
        """A dead letter of a fresh experiment of alice's, as the bus writes one: (experiment id, its seq)."""
        experiment_id = await self.experiment()
        nc = await nats.connect(self.agg.nats_url)
        letter = ev.DeadLetter(experiment_id=experiment_id, subject="selfaware.events.experiment.submitted",
                               consumer="generator-experiment-submitted", error="poison", deliveries=4,
                               payload=ev.ExperimentSubmitted(experiment_id=experiment_id).SerializeToString())
        ack = await nc.jetstream().publish("selfaware.dlq.experiment.submitted", letter.SerializeToString())
        await nc.close()
        return experiment_id, ack.seq


def _yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data)


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory, risky_dataset: Path, questions_dir: Path
                ) -> AsyncIterator[World]:
    folder = tmp_path_factory.mktemp("authz")
    async with start_aggregator(folder, sweep_interval_s=0.2) as aggregator:
        yield World(aggregator, folder, tiny_spec_dict(risky_dataset, questions_dir))


Request = Callable[[World], Awaitable[Any]]


async def _spec(w: World) -> Any:
    return spec_from_dict(w.spec)


async def _submit(w: World) -> Any:
    return pb.SubmitExperimentRequest(spec=await _spec(w))


async def _submit_sweep(w: World) -> Any:
    path = w.folder / "any-sweep.yaml"
    path.write_text(_yaml({"name": "any", "experiment": w.spec, "grid": {"training.epochs": [1]}}))
    return pb.SubmitSweepRequest(spec=load_sweep_file(path))


async def _replay(w: World) -> Any:
    return pb.ReplayDeadLetterRequest(seq=(await w.letter())[1])


async def _purge(w: World) -> Any:
    return pb.PurgeDeadLettersRequest(experiment_id=(await w.letter())[0])


#: Per RPC: the request (alice's target where it has one), and whether another user is refused.
RPCS: dict[str, tuple[Request, bool]] = {
    "SubmitExperiment": (_submit, False),
    "ValidateExperiment": (lambda w: _with(pb.ValidateExperimentRequest, spec=_spec(w)), False),
    "GetCatalogue": (lambda w: _ready(pb.GetCatalogueRequest()), False),
    "GetExperiment": (lambda w: _with(pb.GetExperimentRequest, experiment_id=w.experiment()), True),
    "WatchExperiment": (lambda w: _with(pb.WatchExperimentRequest, experiment_id=w.experiment()), True),
    "ListExperiments": (lambda w: _ready(pb.ListExperimentsRequest()), False),
    "CancelExperiment": (lambda w: _with(pb.CancelExperimentRequest, experiment_id=w.experiment()), True),
    "GetReport": (lambda w: _with(pb.GetReportRequest, experiment_id=w.experiment()), True),
    "ListDeadLetters": (lambda w: _ready(pb.ListDeadLettersRequest()), False),
    "ReplayDeadLetter": (_replay, True),
    "PurgeDeadLetters": (_purge, True),
    "SubmitSweep": (_submit_sweep, False),
    "GetSweep": (lambda w: _with(pb.GetSweepRequest, sweep_id=w.sweep()), True),
    "WatchSweep": (lambda w: _with(pb.WatchSweepRequest, sweep_id=w.sweep()), True),
    "ListSweeps": (lambda w: _ready(pb.ListSweepsRequest()), False),
}


async def _ready(value: Any) -> Any:
    return value


async def _with(message: Any, **fields: Awaitable[Any]) -> Any:
    return message(**{name: await value for name, value in fields.items()})


def test_the_table_covers_every_aggregator_rpc() -> None:
    assert set(RPCS) == set(pb.DESCRIPTOR.services_by_name["AggregatorService"].methods_by_name)


#: The RPCs' own answers for the owner and an admin once past the check (no report exists yet).
PAST_THE_CHECK = {"GetReport": grpc.StatusCode.NOT_FOUND}


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize("method", list(RPCS))
async def test_each_rpc_for_each_caller(world: World, method: str, role: str) -> None:
    make, guarded = RPCS[method]
    request = await make(world)
    if role == "anonymous":
        expected: Any = grpc.StatusCode.UNAUTHENTICATED
    elif role == "other" and guarded:
        expected = grpc.StatusCode.PERMISSION_DENIED
    else:
        expected = PAST_THE_CHECK.get(method, OK)
    try:
        reply = await world.agg.call(method, request, role, first_only=True)
    except grpc.aio.AioRpcError as error:
        assert error.code() == expected, f"{method} as {role}: {error.code()} {error.details()}"
        if expected == grpc.StatusCode.PERMISSION_DENIED:
            assert "alice" not in error.details() and "tiny risk" not in error.details()
        return
    assert expected == OK, f"{method} as {role} succeeded; expected {expected}"
    if method == "PurgeDeadLetters":
        assert reply.purged == 1


async def test_lists_show_each_caller_its_own_and_an_admin_everything(world: World) -> None:
    mine = await world.experiment()
    sweep = await world.sweep()
    letter_of, _ = await world.letter()
    bobs = (await world.agg.call("SubmitExperiment", await _submit(world), "other")).id

    async def seen(role: str) -> tuple[dict[str, str], dict[str, str], set[str]]:
        """(experiment id -> owner, sweep id -> owner, experiment ids of the letters) as `role` lists them."""
        experiments = await world.agg.call("ListExperiments", pb.ListExperimentsRequest(), role)
        sweeps = await world.agg.call("ListSweeps", pb.ListSweepsRequest(), role)
        letters = await world.agg.call("ListDeadLetters", pb.ListDeadLettersRequest(limit=1000), role)
        assert letters.total == len(letters.letters)
        return ({e.id: e.owner for e in experiments.experiments}, {s.id: s.owner for s in sweeps.sweeps},
                {stored.letter.experiment_id for stored in letters.letters})

    alice, bob, admin = await seen("owner"), await seen("other"), await seen("admin")
    assert {mine, letter_of} <= set(alice[0]) and sweep in alice[1] and letter_of in alice[2]
    assert set(alice[0].values()) == set(alice[1].values()) == {"alice"}
    assert bobs in bob[0] and set(bob[0].values()) == {"bob"} and set(bob[1].values()) <= {"bob"}
    assert letter_of not in bob[2]
    assert {mine, letter_of, bobs} <= set(admin[0]) and sweep in admin[1] and letter_of in admin[2]
    assert {"alice", "bob"} <= set(admin[0].values())


async def test_the_owner_is_the_caller_and_a_sweeps_cells_inherit_it(world: World) -> None:
    spec = spec_from_dict(world.spec)
    experiment = await world.agg.call("SubmitExperiment", pb.SubmitExperimentRequest(spec=spec), "other")
    assert experiment.owner == "bob"
    sweep = await world.agg.call("GetSweep", pb.GetSweepRequest(sweep_id=await world.sweep()), "owner")
    assert sweep.sweep.owner == "alice"
    for cell in sweep.sweep.cells:
        got = await world.agg.call("GetExperiment", pb.GetExperimentRequest(experiment_id=cell.experiment_id),
                                   "owner")
        assert got.experiment.owner == "alice"


async def test_the_same_idempotency_key_names_each_users_own_experiment(world: World) -> None:
    request = pb.SubmitExperimentRequest(spec=spec_from_dict(world.spec), idempotency_key="shared-key")
    alices = await world.agg.call("SubmitExperiment", request, "owner")
    bobs = await world.agg.call("SubmitExperiment", request, "other")
    assert alices.id != bobs.id and (alices.owner, bobs.owner) == ("alice", "bob")
    assert (await world.agg.call("SubmitExperiment", request, "owner")).id == alices.id


async def test_an_experiment_without_an_owner_is_an_admins_only(world: World) -> None:
    """Experiments stored before owners existed have none: nobody but an admin may use them."""
    experiment_id = await world.experiment()

    def disown(experiment: Any) -> bool:
        experiment.owner = ""
        return True

    await world.agg.state.update_experiment(experiment_id, disown)
    request = pb.GetExperimentRequest(experiment_id=experiment_id)
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await world.agg.call("GetExperiment", request, "owner")
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert (await world.agg.call("GetExperiment", request, "admin")).experiment.id == experiment_id
