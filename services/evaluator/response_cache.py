"""A persistent cache of model responses, so that rerunning a finished evaluation costs no model calls.

`CachedEngine` wraps any `ModelEngine`. One entry is one answer: a choice request's top-k distribution, or one
sample of a sample request. Keys hash everything the answer depends on: the caller's engine identity (backend and
base model, e.g. "vllm:/models/base" or "openai:http://host/v1:model"), the adapter (its sha256, else its path),
the messages and the sampling parameters. A sample's key holds its index, the request's seed, temperature,
max_tokens and also `n`: engines draw a request's samples together (the HF engine's sample i of a seed changes with
`n`), so only with `n` in the key does a cached run return exactly what an uncached one would. Adapters without a
sha256 are keyed by path: retraining into the same path needs a new cache file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from selfaware.json_cache import JsonCache
from services.evaluator.engines import (
    Adapter,
    ChoiceRequest,
    Messages,
    ModelEngine,
    SampleRequest,
    TokenProbs,
)

log = structlog.get_logger(__name__)


class ResponseCache(JsonCache):
    """The evaluator's answers (`selfaware.json_cache.JsonCache`), in the table `responses` of its file."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, table="responses")


class CachedEngine:
    """A `ModelEngine` that answers from `cache` where it can and asks `inner` only for the rest, in one call.

    `hits` and `misses` count cache entries (answers), not requests. `close` closes the inner engine; the cache
    belongs to the caller, who may share it between engines.
    """

    def __init__(self, inner: ModelEngine, cache: ResponseCache, identity: str) -> None:
        self.inner = inner
        self.cache = cache
        self.identity = identity
        self.hits = 0
        self.misses = 0

    def next_token_probs(self, requests: Sequence[ChoiceRequest], top_k: int = 5) -> list[TokenProbs]:
        keys = [self._key("choice", r.messages, r.adapter, top_k=top_k) for r in requests]
        cached = self.cache.get_many(keys)
        missing = {key: request for key, request in zip(keys, requests, strict=True) if key not in cached}
        absent = sum(key not in cached for key in keys)
        self._count(hits=len(keys) - absent, misses=absent)
        if missing:
            fresh = dict(zip(missing, self.inner.next_token_probs(list(missing.values()), top_k), strict=True))
            self.cache.put_many(fresh)
            cached.update(fresh)
        return [dict(cached[key]) for key in keys]

    def sample(self, requests: Sequence[SampleRequest]) -> list[list[str]]:
        """A request with any sample missing is asked whole (its samples are drawn together), and its fresh samples
        replace whatever of it was cached."""
        keys = [tuple(self._sample_key(r, index) for index in range(r.n)) for r in requests]
        cached = self.cache.get_many(key for request_keys in keys for key in request_keys)
        missing = {request_keys: request for request_keys, request in zip(keys, requests, strict=True)
                   if any(key not in cached for key in request_keys)}
        entries = sum(len(request_keys) for request_keys in keys)
        absent = sum(key not in cached for request_keys in keys for key in request_keys)
        self._count(hits=entries - absent, misses=absent)
        if missing:
            answers = self.inner.sample(list(missing.values()))
            fresh = {key: text for request_keys, texts in zip(missing, answers, strict=True)
                     for key, text in zip(request_keys, texts, strict=True)}
            self.cache.put_many(fresh)
            cached.update(fresh)
        return [[cached[key] for key in request_keys] for request_keys in keys]

    def close(self) -> None:
        self.inner.close()

    def _sample_key(self, request: SampleRequest, index: int) -> str:
        return self._key("sample", request.messages, request.adapter, index=index, n=request.n, seed=request.seed,
                         temperature=float(request.temperature), max_tokens=request.max_tokens)

    def _key(self, kind: str, messages: Messages, adapter: Adapter | None, **params: Any) -> str:
        """sha256 of a canonical JSON of everything the answer depends on."""
        identity = ("base" if adapter is None
                    else adapter.sha256 or (f"served:{adapter.served_name}" if adapter.served_name else adapter.path))
        payload = {"kind": kind, "engine": self.identity, "adapter": identity, "messages": list(messages),
                   "params": params}
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def _count(self, hits: int, misses: int) -> None:
        self.hits += hits
        self.misses += misses
        log.debug("response_cache", hits=hits, misses=misses, path=self.cache.path)
