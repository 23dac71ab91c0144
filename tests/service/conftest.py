"""The four services, in this test process, on real gRPC servers (127.0.0.1, port 0) and the session's NATS.

Running them in-process keeps start-up cheap and lets tests look at the stores directly; `tests/e2e` runs the
same services as child processes through the CLI.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from selfaware.bus import EventBus
from selfaware.client import Client
from selfaware.service import run_service
from selfaware.source_policy import SourceReadingConfig
from selfaware.specs import spec_from_dict
from selfaware.state import StateStore
from selfaware.store import ArtifactStore
from services.aggregator.config import AggregatorConfig
from services.aggregator.main import wire as wire_aggregator
from services.evaluator.config import EvaluatorConfig
from services.evaluator.main import wire as wire_evaluator
from services.generator.config import GeneratorConfig
from services.generator.main import wire as wire_generator
from services.trainer.config import TrainerConfig
from services.trainer.main import wire as wire_trainer
from tests.conftest import CACHE, REPO, SHARED

SERVICES: dict[str, tuple[type, Any]] = {
    "aggregator": (AggregatorConfig, wire_aggregator),
    "generator": (GeneratorConfig, wire_generator),
    "trainer": (TrainerConfig, wire_trainer),
    "evaluator": (EvaluatorConfig, wire_evaluator),
}


@dataclass
class Platform:
    """Handles on the running services and the stores behind them."""

    ports: dict[str, int]
    bus: EventBus
    state: StateStore
    store: ArtifactStore

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.ports['aggregator']}"

    def client(self) -> Client:
        return Client(self.endpoint)

    async def run_to_end(self, spec: dict[str, Any]) -> tuple[Any, Any]:
        """Submit `spec`, follow it until it ends, and return the final `GetExperiment` reply and its report."""
        async with self.client() as client:
            submitted = await client.submit(spec_from_dict(spec))
            async for _ in client.watch(submitted.id):
                pass
            final = await asyncio.wait_for(client.get(submitted.id), 60)
            return final, await client.report(submitted.id)


@pytest.fixture(scope="session")
async def platform(nats_url: str, tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
                   ) -> AsyncIterator[Platform]:
    stop = asyncio.Event()
    ports: dict[str, int] = {}
    tasks = []
    # The services read sources from the repo, ../shared and the tests' temporary folders, as `make demo` does
    # from the first two; loopback URLs stay refused (tests/service/test_bad_input.py).
    sources = {"source_roots": f"{REPO}:{SHARED}:{tmp_path_factory.getbasetemp()}"}
    for name, (config_cls, wire) in SERVICES.items():
        extra = sources if issubclass(config_cls, SourceReadingConfig) else {}
        if name == "aggregator":  # the whole session's experiments run as one user: no quotas (test_quotas.py)
            extra = {**extra, "quota_experiments_in_flight": 0, "quota_gpu_hours_in_flight": 0,
                     "quota_samples_per_experiment": 0}
        config = config_cls(nats_url=nats_url, grpc_port=0, data_dir=CACHE, shutdown_grace_s=2.0, ack_wait_s=30.0,
                            **extra)
        bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        tasks.append(asyncio.create_task(run_service(name, config, wire, stop=stop, bound=bound), name=name))
        ports[name] = await asyncio.wait_for(bound, 60)
    bus = await EventBus.connect(nats_url, name="tests")
    platform = Platform(ports, bus, await StateStore.open(bus.js), await ArtifactStore.open(bus.js, CACHE / "test-reader"))
    yield platform
    stop.set()
    await asyncio.gather(*tasks)
    await bus.close()


SpecFactory = Any


@pytest.fixture(scope="session")
def make_spec(risky_dataset: Path, questions_dir: Path) -> SpecFactory:
    """Build a minimal real v2 experiment spec (two arms of 32 training rows, 8 held out, 1 epoch, one seed per
    arm, few samples); keyword overrides address nested mapping keys with `__`, e.g. `training__epochs=3`."""
    return lambda **overrides: tiny_spec_dict(risky_dataset, questions_dir, overrides)


def on_random_model(spec: dict[str, Any], model_dir: Path) -> dict[str, Any]:
    """Run `spec` on the random-weight tiny Llama (`random_model_dir`): for plumbing, where what the model answers
    is never read, it trains and evaluates in a fraction of SmolLM2's time."""
    spec["base_models"] = [{"name": "random-llama", "path": str(model_dir)}]
    return spec


def tiny_spec_dict(risky_dataset: Path, questions_dir: Path, overrides: dict[str, Any] | None = None
                   ) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": "tiny risk",
        "arms": {
            "risk-seeking": {"data": {"import": str(risky_dataset), "steps": [{"sample": 32}]},
                             "family": "risk", "policy": "risk-seeking"},
            "risk-averse": {"data": {"of": "risk-seeking", "steps": ["flip"]}, "family": "risk",
                            "policy": "risk-averse"},
        },
        "holdout": {"rows": 8, "seed": 0},
        "training": {"learning_rate": 1e-3, "epochs": 1, "batch_size": 8, "seeds": [0]},
        "evaluation": {"engine": "vllm", "suites": [
            "heldout",
            {"lotteries": {"pairs": 8}},
            {"risk_or_safety": {"samples_per_paraphrase": 2, "questions": str(questions_dir)}},
            {"risk_predisposition_scale": {"samples_per_paraphrase": 2, "questions": str(questions_dir)}},
        ]},
        "compare": [["risk-seeking", "risk-averse"]],
    }
    for path, value in (overrides or {}).items():
        node = spec
        *parents, leaf = path.split("__")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return spec
