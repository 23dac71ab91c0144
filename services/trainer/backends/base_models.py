"""Loaded base models kept between jobs, so consecutive trainings on one base load it once per process.

A LoRA job only adds adapter layers to the base and trains those; `PeftModel.unload()` takes them out again and
leaves the base's own weights as loaded. So the trainer keeps the last base it used, keyed by its path and how it
was placed (device, dtype, sharding, quantisation), and the next job on the same key starts from it. A job holds
its base exclusively: a second job running at the same time on the same key loads its own copy, and the cache
keeps whichever comes back last. A base that was not cleanly unloaded (the job said so) is dropped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import structlog

log = structlog.get_logger(__name__)


@dataclass
class Lease:
    """A borrowed base model; the job sets `clean` once it has taken its adapter layers out again."""

    model: Any
    clean: bool = False


class BaseModelCache:
    """At most one idle base model, reused by the next job with the same key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: tuple[Hashable, Any] | None = None
        #: Loads done by this cache (what "one load per process" is checked against).
        self.loads = 0

    @contextmanager
    def borrow(self, key: Hashable, load: Callable[[], Any]) -> Iterator[Lease]:
        with self._lock:
            model = None
            if self._idle is not None and self._idle[0] == key:
                model, self._idle = self._idle[1], None
        if model is None:
            model = load()
            self.loads += 1
            log.info("base_model_loaded", key=str(key), loads=self.loads)
        lease = Lease(model)
        try:
            yield lease
        finally:
            if lease.clean:
                with self._lock:
                    self._idle = (key, lease.model)

    def clear(self) -> None:
        """Forget the idle base (frees its memory)."""
        with self._lock:
            self._idle = None
