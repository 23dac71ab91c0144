"""A service imports its `Wiring.preload` modules in the background once it runs, so its first job does not wait
for torch on an experiment's critical path; a module that cannot be imported is logged, never fatal."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from pathlib import Path

from selfaware.service import Runtime, Wiring, run_service
from services.generator.config import GeneratorConfig
from services.generator.main import wire
from tests.conftest import REPO, SHARED

MODULE = "colorsys"  # small, standard, and imported by nothing else in the test run


async def test_preload_imports_in_the_background_and_a_missing_module_is_not_fatal(nats_url: str,
                                                                                 tmp_path: Path) -> None:
    sys.modules.pop(MODULE, None)

    async def preloading(config: GeneratorConfig, runtime: Runtime) -> Wiring:
        return dataclasses.replace(await wire(config, runtime), preload=("no_such_module_here", MODULE))

    config = GeneratorConfig(nats_url=nats_url, grpc_port=0, data_dir=tmp_path, metrics_port=0,
                             shutdown_grace_s=1.0, source_roots=f"{REPO}:{SHARED}:{tmp_path}")
    stop, bound = asyncio.Event(), asyncio.get_running_loop().create_future()
    service = asyncio.create_task(run_service("generator-preload", config, preloading, stop=stop, bound=bound))
    await asyncio.wait_for(bound, 60)
    for _ in range(100):
        if MODULE in sys.modules:
            break
        await asyncio.sleep(0.1)
    assert MODULE in sys.modules
    stop.set()
    await asyncio.wait_for(service, 30)  # the missing module did not make the service fail
