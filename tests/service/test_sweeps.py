"""Sweeps on a real aggregator (gRPC + a NATS of each test's own, the other services' catalogues published, no
generator): SubmitSweep creates the cells' experiments held and announces only what admission lets through, a
resubmission adds only missing cells, bad or changed cells are refused before anything is written, a single
experiment is never held behind a sweep, and a sweep whose cells all ended gets its report."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from selfaware.bus import EventBus
from selfaware.cli.main import main
from selfaware.client import Client
from selfaware.grpc_server import field_violations
from selfaware.service import run_service
from selfaware.specs import prepare, spec_from_dict
from selfaware.state import StateStore
from selfaware.sweeps import load_sweep_file
from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import sweep_pb2
from services.aggregator.config import AggregatorConfig
from services.aggregator.main import wire as wire_aggregator
from services.evaluator.catalogue import catalogue as evaluator_catalogue
from services.generator.catalogue import catalogue as generator_catalogue
from services.trainer.catalogue import catalogue as trainer_catalogue
from tests.conftest import REPO, SHARED, NatsProcess
from tests.service.conftest import tiny_spec_dict
from tests.service.streams import all_events


@dataclass
class Aggregator:
    endpoint: str
    bus: EventBus
    state: StateStore
    folder: Path
    experiment: dict[str, Any]

    def sweep(self, epochs: list[int], name: str = "epochs", **changes: Any) -> sweep_pb2.SweepSpec:
        """A sweep file over the tiny risk experiment, expanded as the CLI expands it."""
        experiment = {**self.experiment, **changes}
        path = self.folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump({"name": name, "experiment": experiment, "grid": {"training.epochs": epochs}}))
        return load_sweep_file(path)

    async def announced(self) -> list[str]:
        """The experiment ids announced on `experiment.submitted`, in order."""
        return [e.experiment_id for subject, e in await all_events(self.bus) if subject == "experiment.submitted"]


@pytest.fixture
async def aggregator(tmp_path: Path, risky_dataset: Path, questions_dir: Path) -> AsyncIterator[Aggregator]:
    """The aggregator alone with one sweep slot, ticking every 0.2 s, on a NATS of its own (the session's
    generator would otherwise take the announced experiments and run them)."""
    nats_server = NatsProcess(tmp_path / "nats")
    nats_server.start()
    config = AggregatorConfig(nats_url=nats_server.url, grpc_port=0, data_dir=tmp_path / "data",
                              shutdown_grace_s=1.0, sweep_slots=1, sweep_interval_s=0.2,
                              source_roots=f"{REPO}:{SHARED}:{tmp_path}")
    stop, bound = asyncio.Event(), asyncio.get_running_loop().create_future()
    service = asyncio.create_task(run_service("aggregator", config, wire_aggregator, stop=stop, bound=bound))
    port = await asyncio.wait_for(bound, 60)
    bus = await EventBus.connect(nats_server.url, name="tests")
    state = await StateStore.open(bus.js)
    for published in (generator_catalogue(), trainer_catalogue(), evaluator_catalogue()):
        await state.put_catalogue(published)
    try:
        yield Aggregator(f"127.0.0.1:{port}", bus, state, tmp_path, tiny_spec_dict(risky_dataset, questions_dir))
    finally:
        stop.set()
        await asyncio.wait_for(service, 30)
        await bus.close()
        nats_server.kill()


async def cells_of(client: Client, sweep_id: str) -> dict[str, rec.Experiment]:
    return {e.id: e for e in await client.list() if e.sweep_id == sweep_id}


async def test_cells_are_created_held_and_a_resubmission_adds_only_missing_cells(aggregator: Aggregator) -> None:
    async with Client(aggregator.endpoint) as client:
        first = await client.submit_sweep(aggregator.sweep([1, 2]), idempotency_key="sweep:epochs")
        assert [c.key for c in first.cells] == ["training.epochs=1", "training.epochs=2"]
        cells = await cells_of(client, first.id)
        assert set(cells) == {c.experiment_id for c in first.cells}
        assert sorted(e.spec.training.epochs for e in cells.values()) == [1, 2]
        assert cells[first.cells[0].experiment_id].spec.name == "epochs [training.epochs=1]"
        assert sum(not e.held for e in cells.values()) == 1  # one slot: one admitted, one held

        again = await client.submit_sweep(aggregator.sweep([1, 2]), idempotency_key="sweep:epochs")
        assert again.id == first.id and await cells_of(client, first.id) == cells  # nothing new, nothing changed
        assert len(await client.list()) == 2

        grown = await client.submit_sweep(aggregator.sweep([1, 2, 3]), idempotency_key="sweep:epochs")
        after = await cells_of(client, first.id)
        assert grown.id == first.id and len(after) == 3 and set(cells) < set(after)
        assert [c.key for c in grown.spec.cells] == ["training.epochs=1", "training.epochs=2", "training.epochs=3"]
        assert (await client.list_sweeps())[0].id == first.id


async def test_a_changed_cell_and_an_invalid_one_are_invalid_arguments_naming_their_fields(
        aggregator: Aggregator) -> None:
    async with Client(aggregator.endpoint) as client:
        await client.submit_sweep(aggregator.sweep([1, 2]), idempotency_key="sweep:epochs")
        changed = aggregator.sweep([1, 2], training={"learning_rate": 0.01, "batch_size": 8, "seeds": [0]})
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.submit_sweep(changed, idempotency_key="sweep:epochs")
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert [f for f, _ in field_violations(caught.value)] == ["cells[0]"]

        invalid = aggregator.sweep([1, 2], name="invalid")
        invalid.cells[1].spec.evaluation.suites[1].params["pairs"] = -3  # lotteries; the catalogue says >= 1
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.submit_sweep(invalid, idempotency_key="sweep:invalid")
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert [f for f, _ in field_violations(caught.value)] == ["cells[1].spec.evaluation.suites[1].params.pairs"]
        assert len(await client.list()) == 2 and len(await client.list_sweeps()) == 1  # nothing written for either


async def test_a_single_experiment_is_announced_at_once_while_a_sweep_waits_for_its_slot(
        aggregator: Aggregator) -> None:
    async with Client(aggregator.endpoint) as client:
        sweep = await client.submit_sweep(aggregator.sweep([1, 2, 3]), idempotency_key="sweep:epochs")
        single = await client.submit(prepare(spec_from_dict(aggregator.experiment)))
        await asyncio.sleep(1.0)  # five ticks: none may admit a second cell while the first runs
        announced = await aggregator.announced()
        cells = [c.experiment_id for c in sweep.cells]
        assert announced == [cells[0], single.id]
        assert [c.held for c in (await client.get_sweep(sweep.id)).sweep.cells] == [False, True, True]

        await client.cancel(cells[0])  # the slot frees: the next tick admits the next cell
        for _ in range(50):
            if len(announced := await aggregator.announced()) == 3:
                break
        assert announced == [cells[0], single.id, cells[1]]


async def test_a_sweep_whose_cells_all_ended_gets_its_report_and_the_watch_ends(aggregator: Aggregator) -> None:
    async with Client(aggregator.endpoint) as client:
        sweep = await client.submit_sweep(aggregator.sweep([1, 2]), idempotency_key="sweep:epochs")
        updates: list[sweep_pb2.Sweep] = []

        async def watch() -> None:
            async for update in client.watch_sweep(sweep.id):
                updates.append(update)

        watching = asyncio.create_task(watch())
        for cell in sweep.cells:
            await client.cancel(cell.experiment_id)
        await asyncio.wait_for(watching, 30)
        final = updates[-1]
        assert final.status == rec.EXPERIMENT_STATUS_FAILED and "2 of 2 cells did not succeed" in final.error
        assert [c.status for c in final.cells] == [rec.EXPERIMENT_STATUS_CANCELLED] * 2
        got = await client.get_sweep(sweep.id)
        assert got.sweep.report.markdown.sha256 and "training.epochs" in got.markdown
        assert "CANCELLED" in got.markdown.upper()  # the report lists the failed cells with their status


async def test_the_cli_submits_a_sweep_file_and_sweep_watch_writes_its_report(
        aggregator: Aggregator, capsys: pytest.CaptureFixture[str]) -> None:
    path = aggregator.folder / "cli.yaml"
    path.write_text(yaml.safe_dump({"name": "cli", "experiment": aggregator.experiment,
                                    "grid": {"training.epochs": [1, 2]}}))
    endpoint, out = aggregator.endpoint, aggregator.folder / "reports"
    assert await asyncio.to_thread(main, ["sweep", str(path), "--endpoint", endpoint]) == 0
    sweep_id = capsys.readouterr().out.strip().splitlines()[-1]
    async with Client(endpoint) as client:
        sweep = (await client.get_sweep(sweep_id)).sweep
        assert sweep.spec.name == "cli" and len(sweep.cells) == 2
        for cell in sweep.cells:
            await client.cancel(cell.experiment_id)
    code = await asyncio.to_thread(main, ["sweep-watch", sweep_id, "--endpoint", endpoint, "--out", str(out)])
    assert code == 1  # every cell was cancelled
    report = (out / f"sweep-{sweep_id}" / "report.md").read_text()
    assert "training.epochs" in report and "CANCELLED" in report.upper()  # the failed cells, with their status
