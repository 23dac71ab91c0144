"""One loaded engine per (backend, base model), built on first use and shared by every experiment.

Engine calls are serialised by one lock: vLLM's offline engine and the HF engine are not thread-safe, and on
these machines one evaluation saturates the CPU anyway. Switching base models closes the previous engine first,
so at most one model is resident.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

import structlog

from services.evaluator.config import EvaluatorConfig
from services.evaluator.engines import ModelEngine, build_engine

log = structlog.get_logger(__name__)
T = TypeVar("T")


class EnginePool:
    def __init__(self, config: EvaluatorConfig) -> None:
        self.config = config
        self._key: tuple[str, str] | None = None
        self._engine: ModelEngine | None = None
        self._lock = asyncio.Lock()

    async def run(self, backend: str, model_dir: str, work: Callable[[ModelEngine], T]) -> T:
        """Run `work(engine)` in a worker thread, with the engine for (backend, model_dir) loaded."""
        async with self._lock:
            if self._key != (backend, model_dir):
                await self._close()
                log.info("engine_loading", backend=backend, model=model_dir)
                options = self.config.engine_options(backend)
                self._engine = await asyncio.to_thread(build_engine, backend, model_dir, **options)
                self._key = (backend, model_dir)
            engine = self._engine
            assert engine is not None
            return await asyncio.to_thread(work, engine)

    async def close(self) -> None:
        async with self._lock:
            await self._close()

    async def _close(self) -> None:
        if self._engine is not None:
            await asyncio.to_thread(self._engine.close)
            self._engine, self._key = None, None
