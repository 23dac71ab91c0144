"""The `openai` engine: the `ModelEngine` interface over any OpenAI-compatible endpoint (vLLM's server, hosted APIs).

Its HTTP side is `selfaware.openai_endpoint.OpenAIEndpoint`, the one the generator's model calls use: a client
built with `max_retries=0`, so which failures are retried (429, 5xx, timeouts, connection errors), how long it
waits (exponential backoff with jitter, or the server's `Retry-After`, both capped) and when it gives up are
explicit there and tested. Every other 4xx fails at once. This module adds what an engine needs on top: top-k
logprobs, `n` samples with derived seeds, and adapters loaded at run time through vLLM's LoRA API.

The engine is synchronous, like every engine; each call runs its requests concurrently (at most
`max_concurrency` in flight) on the endpoint's private event loop, so HTTP connections are reused.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

import structlog
from openai.types.chat import ChatCompletion

from selfaware.errors import DataError
from selfaware.openai_endpoint import EndpointOptions, EndpointRefused, OpenAIEndpoint

from ._api import Adapter, ChoiceRequest, Messages, SampleRequest, TokenProbs

log = structlog.get_logger(__name__)
T = TypeVar("T")


class LoraLoadingUnsupported(EndpointRefused):
    """The endpoint would not load a LoRA adapter at run time."""


class LogprobsUnavailable(DataError):
    """The endpoint answered without the top-k logprobs that next-token-probability suites need."""


class OpenAIEngine:
    """Chat completions against one endpoint; adapters are loaded into it with vLLM's runtime LoRA API."""

    def __init__(self, options: EndpointOptions) -> None:
        self._options = options
        self._base_url = options.base_url.rstrip("/")
        #: The client, its event loop, the concurrency bound and the retries: shared with the generator's calls.
        self._endpoint = OpenAIEndpoint(options)
        #: Served LoRA names already loaded, and one lock per name so that each is loaded once.
        self._loaded: set[str] = set()
        self._load_locks: dict[str, asyncio.Lock] = {}
        log.info("openai_engine_ready", base_url=self._base_url, model=options.model,
                 max_concurrency=options.max_concurrency)

    def next_token_probs(self, requests: Sequence[ChoiceRequest], top_k: int = 5) -> list[TokenProbs]:
        return self._run([self._next_token_probs(r, top_k) for r in requests])

    def sample(self, requests: Sequence[SampleRequest]) -> list[list[str]]:
        return self._run([self._sample(r) for r in requests])

    def close(self) -> None:
        self._endpoint.close()

    def _run(self, calls: list[Coroutine[Any, Any, T]]) -> list[T]:
        """Run the calls concurrently on the endpoint's loop; the first failure cancels the rest."""
        return self._endpoint.run(calls)

    async def _next_token_probs(self, request: ChoiceRequest, top_k: int) -> TokenProbs:
        model = await self._served_model(request.adapter)
        response = await self._complete(model, request.messages, max_tokens=1, temperature=0.0, logprobs=True,
                                        top_logprobs=top_k)
        choice = response.choices[0] if response.choices else None
        content = choice.logprobs.content if choice is not None and choice.logprobs is not None else None
        if not content or not content[0].top_logprobs:
            raise LogprobsUnavailable(
                f"{self._base_url} (model {model!r}) does not offer top-k logprobs (top_logprobs={top_k} returned "
                "none); next-token-probability suites need them: use an endpoint that returns them, or only "
                "sampling suites")
        probs: TokenProbs = {}
        for top in content[0].top_logprobs:
            probs[top.token] = probs.get(top.token, 0.0) + math.exp(top.logprob)
        return probs

    async def _sample(self, request: SampleRequest) -> list[str]:
        """`request.n` completions; when the server returns fewer choices, ask again for the rest with derived
        seeds, so the whole list stays a function of the request."""
        model = await self._served_model(request.adapter)
        texts: list[str] = []
        for round_number in range(request.n):
            wanted = request.n - len(texts)
            seed = _round_seed(request.seed, round_number)
            response = await self._complete(model, request.messages, n=wanted, temperature=request.temperature,
                                            max_tokens=request.max_tokens, seed=seed)
            if not response.choices:
                raise EndpointRefused(f"{self._base_url} (model {model!r}) returned no choices for n={wanted}")
            choices = sorted(response.choices, key=lambda choice: choice.index)[:wanted]
            texts += [choice.message.content or "" for choice in choices]
            if len(texts) == request.n:
                break
        return texts

    async def _complete(self, model: str, messages: Messages, **params: Any) -> ChatCompletion:
        return await self._endpoint.call(lambda client: client.chat.completions.create(
            model=model, messages=list(messages), **params), model)

    async def _served_model(self, adapter: Adapter | None) -> str:
        """The model name that serves `adapter`, loading it into the endpoint on first use (a hosted fine-tune is
        served already, under its own name)."""
        if adapter is None:
            return self._options.model
        if adapter.served_name:
            return adapter.served_name
        name = lora_name(adapter)
        async with self._load_locks.setdefault(name, asyncio.Lock()):
            if name not in self._loaded:
                await self._load_lora(name, adapter)
                self._loaded.add(name)
        return name

    async def _load_lora(self, name: str, adapter: Adapter) -> None:
        body = {"lora_name": name, "lora_path": adapter.path}
        try:
            await self._endpoint.call(lambda client: client.post("/load_lora_adapter", body=body, cast_to=str), name)
        except EndpointRefused as error:
            if error.status == 400 and "already been loaded" in str(error):
                # Loaded before (another replica, or this engine's previous life): names are content-derived.
                log.info("lora_already_loaded", lora_name=name)
                return
            if error.status not in (400, 404):
                raise
            raise LoraLoadingUnsupported(
                f"{self._base_url} refused to load LoRA adapter {adapter.name!r} from {adapter.path} ({error}). "
                "The endpoint cannot load LoRA adapters at run time, or cannot read that path: for vLLM, start "
                "it with VLLM_ALLOW_RUNTIME_LORA_UPDATING=True and --enable-lora, with the path visible to the "
                "server; hosted APIs need fine-tuned model names instead (a later issue adds them)") from error
        log.info("lora_loaded", lora_name=name, adapter=adapter.name, path=adapter.path)


def lora_name(adapter: Adapter) -> str:
    """The name an adapter is served under: from its content hash when known, else from its name and path (so a
    reused name with a new path is a new served model, never a stale one)."""
    if adapter.sha256:
        return f"sa-{adapter.sha256[:16]}"
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", adapter.name).strip("-") or "adapter"
    return f"sa-{slug}-{hashlib.sha256(adapter.path.encode()).hexdigest()[:8]}"


def _round_seed(seed: int, round_number: int) -> int:
    """The seed of a request's n-th top-up round; round 0 uses the request's own seed."""
    return seed if round_number == 0 else (seed * 1_000_003 + round_number) % 2**63
