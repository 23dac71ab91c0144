"""One loaded engine per (engine, base model, options), built on first use and shared by every experiment.

Engine calls are serialised by one lock: vLLM's offline engine and the HF engine are not thread-safe, and on
these machines one evaluation saturates the CPU anyway. Switching base models closes the previous engine first,
so at most one model is resident.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import structlog

from services.evaluator.config import EvaluatorConfig
from services.evaluator.engines import ModelEngine, build_engine
from services.evaluator.response_cache import CachedEngine, ResponseCache

log = structlog.get_logger(__name__)
T = TypeVar("T")


class EnginePool:
    def __init__(self, config: EvaluatorConfig) -> None:
        self.config = config
        self._key: tuple[str, str, str] | None = None
        self._engine: ModelEngine | None = None
        self._lock = asyncio.Lock()
        self._cache: ResponseCache | None = None

    async def run(self, backend: str, model_dir: str, work: Callable[[ModelEngine], T],
                  options: Mapping[str, Any] | None = None) -> T:
        """Run `work(engine)` in a worker thread, with the engine for (backend, model_dir) loaded.

        Args:
            options: The engine's options; None takes the evaluator config's (`engine_options(backend)`).
        """
        chosen = dict(self.config.engine_options(backend) if options is None else options)
        key = (backend, model_dir, json.dumps(chosen, sort_keys=True, default=str))
        async with self._lock:
            if self._key != key:
                await self._close()
                log.info("engine_loading", backend=backend, model=model_dir)
                engine = await asyncio.to_thread(build_engine, backend, model_dir, **chosen)
                self._engine = self._cached(engine, backend, model_dir, chosen)
                self._key = key
            engine = self._engine
            assert engine is not None
            return await asyncio.to_thread(work, engine)

    def _cached(self, engine: ModelEngine, backend: str, model_dir: str, options: Mapping[str, Any]
                ) -> ModelEngine:
        """`engine` behind the response cache, so a rerun of a finished evaluation asks the model nothing.

        The identity names what decides an answer: the engine (each samples differently for one seed) and the
        model it serves (the base directory, or an endpoint's URL and served name); adapters are keyed by their
        content hash inside the cache."""
        if not self.config.response_cache:
            return engine
        if self._cache is None:
            self._cache = ResponseCache(self.config.data_dir / "response-cache.sqlite")
        served = f"{options.get('base_url')}:{options.get('model') or model_dir}" if backend == "openai" else model_dir
        return CachedEngine(engine, self._cache, identity=f"{backend}:{served}")

    async def close(self) -> None:
        async with self._lock:
            await self._close()
            if self._cache is not None:
                self._cache.close()
                self._cache = None

    async def _close(self) -> None:
        if self._engine is not None:
            await asyncio.to_thread(self._engine.close)
            self._engine, self._key = None, None
