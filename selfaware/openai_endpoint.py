"""One OpenAI-compatible endpoint of a spec (`endpoints`): its client, its key, its limits and its retries.

Why its own retry loop: the client is built with `max_retries=0`, so which failures are retried (429, 5xx,
timeouts, connection errors), how long it waits (exponential backoff with jitter, or the server's `Retry-After`,
both capped) and when it gives up are explicit here. Every other 4xx fails at once, as `EndpointRefused`.

Calls are async; `run` runs a batch of them concurrently (at most `max_concurrency` requests in flight) on a
private event loop the endpoint owns, so synchronous callers (the generator's recipes run in a worker thread)
reuse HTTP connections. The API key is never part of a spec: `api_key_file` names a secret of the service's
secret store (selfaware/secret_store.py: a file in its `secrets_dir` or `SELFAWARE_SECRET_<NAME>`), or
`api_key_env` one of the environment variables the service allows (setting `api_key_envs`).

The generator's model-written data uses this module. The evaluator's `openai` engine
(`services/evaluator/engines/openai_engine.py`) shares its errors, key lookup, retry delay, error text and
gather; it keeps its own options and retry loop (LoRA loading, per-model hints).
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import openai
import structlog
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion

from selfaware.errors import PermanentError, SelfawareError
from selfaware.secret_store import secret_store
from selfaware.v1 import spec_pb2

log = structlog.get_logger(__name__)
T = TypeVar("T")

#: The longest wait between two attempts, whatever the backoff or `Retry-After` asks for.
MAX_DELAY_S = 30.0


class EndpointUnavailable(SelfawareError):
    """The endpoint kept failing with retryable errors until the retries ran out; a later attempt may succeed."""


class EndpointRefused(PermanentError):
    """The endpoint rejected a request with a 4xx other than 429: retrying cannot help."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        #: The HTTP status, when the refusal was one.
        self.status = status


@dataclass(frozen=True)
class EndpointOptions:
    """Where an endpoint is and how hard to push it (the spec's `Endpoint`, defaults as docs/spec.md lists)."""

    #: The API root, e.g. "http://vllm:8000/v1" (required; a default only so that a missing one is a ValueError).
    base_url: str = ""
    #: The served model name (the evaluator's `openai` engine fills in the resolved base model when not given).
    model: str = ""
    #: Environment variable that holds the key.
    api_key_env: str = "OPENAI_API_KEY"
    #: The secret that holds the key (a file in the service's `secrets_dir`); wins over `api_key_env` when set.
    api_key_file: str | None = None
    #: Most HTTP requests in flight at once.
    max_concurrency: int = 8
    #: Seconds one HTTP request may take.
    timeout_s: float = 60.0
    #: Further attempts after a 429, 5xx, timeout or connection error.
    max_retries: int = 5
    #: First retry delay in seconds; it doubles per attempt, with jitter, up to `MAX_DELAY_S`.
    backoff_s: float = 1.0

    def __post_init__(self) -> None:
        if not self.base_url:
            raise ValueError("base_url: required, the endpoint's API root (e.g. http://vllm:8000/v1)")
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url: must be an http:// or https:// URL, got {self.base_url!r}")
        if not self.model:
            raise ValueError("model: must name the served model")
        if not self.api_key_env:
            raise ValueError("api_key_env: must name an environment variable")
        if self.api_key_file is not None and not self.api_key_file:
            raise ValueError("api_key_file: must name a secret or be None")
        secret_store().check_key_source(self.api_key_env, self.api_key_file)  # before a client is built
        if self.max_concurrency < 1:
            raise ValueError("max_concurrency: must be at least 1")
        if self.timeout_s <= 0:
            raise ValueError("timeout_s: must be positive")
        if self.max_retries < 0 or self.backoff_s < 0:
            raise ValueError("max_retries and backoff_s: must be 0 or more")

    @classmethod
    def from_spec(cls, endpoint: spec_pb2.Endpoint, **overrides: Any) -> EndpointOptions:
        """The options of a spec endpoint; unset fields keep their defaults, `overrides` win (tests shorten
        `backoff_s`).

        Raises:
            ValueError: a field is invalid; the message starts with the field's name.
        """
        return cls(**(endpoint_settings(endpoint) | {"model": endpoint.model} | overrides))


def endpoint_settings(endpoint: spec_pb2.Endpoint) -> dict[str, Any]:
    """The connection settings a spec endpoint sets (its URL, key source and limits; not its model), so that
    unset fields keep each client's defaults."""
    settings: dict[str, Any] = {"base_url": endpoint.base_url}
    if endpoint.api_key_env:
        settings["api_key_env"] = endpoint.api_key_env
    if endpoint.api_key_file:
        settings["api_key_file"] = endpoint.api_key_file
    for field in ("max_concurrency", "timeout_s", "max_retries"):
        if endpoint.HasField(field):
            settings[field] = getattr(endpoint, field)
    return settings


class OpenAIEndpoint:
    """Chat completions against one endpoint, with bounded concurrency and explicit retries."""

    def __init__(self, options: EndpointOptions) -> None:
        self.options = options
        self._base_url = options.base_url.rstrip("/")
        self._loop = asyncio.new_event_loop()
        self._run_lock = threading.Lock()
        self._client: AsyncOpenAI | None = AsyncOpenAI(
            base_url=self._base_url, api_key=api_key(options), timeout=options.timeout_s, max_retries=0)
        self._semaphore = asyncio.Semaphore(options.max_concurrency)
        self._random = random.Random()
        #: Where the key was looked for, for the message of a 401.
        self._key_source = options.api_key_file or f"${options.api_key_env}"

    def __enter__(self) -> OpenAIEndpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def chat(self, messages: Sequence[Mapping[str, str]], **params: Any) -> ChatCompletion:
        """One chat completion of the endpoint's model; `params` are the API's (temperature, max_tokens, ...)."""
        model = self.options.model
        return await self.call(lambda client: client.chat.completions.create(
            model=model, messages=[dict(m) for m in messages], **params))  # type: ignore[misc]

    async def text(self, messages: Sequence[Mapping[str, str]], **params: Any) -> str:
        """The first choice's text of `chat` ("" when the server sends no content)."""
        response = await self.chat(messages, **params)
        if not response.choices:
            raise EndpointRefused(f"{self._base_url} (model {self.options.model!r}) returned no choices")
        return response.choices[0].message.content or ""

    async def call(self, request: Callable[[AsyncOpenAI], Awaitable[T]], model: str | None = None) -> T:
        """`request(client)` with at most `max_concurrency` in flight; retry what a later attempt can fix.

        Args:
            model: The served model the request is for, as errors and logs name it (default: the options').
        """
        if self._client is None:
            raise RuntimeError("the endpoint is closed")
        model = model or self.options.model
        attempts = self.options.max_retries + 1
        for attempt in range(attempts):
            try:
                async with self._semaphore:
                    return await request(self._client)
            except (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError) as error:
                if attempt + 1 == attempts:
                    raise EndpointUnavailable(
                        f"{self._base_url} (model {model!r}) still failing after {attempts} "
                        f"attempts: {describe(error)}") from error
                delay = retry_delay(attempt, error, self.options.backoff_s, self._random)
                log.warning("openai_retry", base_url=self._base_url, model=model,
                            attempt=attempt + 1, delay_s=round(delay, 3), error=describe(error))
                await asyncio.sleep(delay)
            except openai.APIStatusError as error:
                hint = f" (the key comes from {self._key_source})" if error.status_code in (401, 403) else ""
                raise EndpointRefused(f"{self._base_url} (model {model!r}): {describe(error)}{hint}",
                                      error.status_code) from error
        raise AssertionError("unreachable: the last attempt returns or raises")

    def run(self, calls: Sequence[Coroutine[Any, Any, T]]) -> list[T]:
        """Run the calls concurrently on the endpoint's loop, results in order; the first failure cancels the
        rest and is raised."""
        with self._run_lock:
            if self._client is None:
                for call in calls:
                    call.close()
                raise RuntimeError("the endpoint is closed")
            return self._loop.run_until_complete(gather_or_cancel(list(calls)))

    def close(self) -> None:
        with self._run_lock:
            if self._client is not None:
                self._loop.run_until_complete(self._client.close())
                self._loop.close()
                self._client = None


def api_key(options: EndpointOptions) -> str:
    """The key from the secret `api_key_file` names, else the variable `api_key_env` (if the service's secret
    store allows it), else "EMPTY" (local servers need none).

    Why restricted: a spec chooses both the variable or file and the `base_url` the key is sent to, so without
    the store's limits a spec could send the service's NATS password or HF_TOKEN to its own server.

    Raises:
        SecretError: the secret is unknown or empty, or the variable is not one the service allows.
    """
    key = secret_store().endpoint_key(options.api_key_env, options.api_key_file)
    if key:
        return key
    log.warning("openai_no_api_key", api_key_env=options.api_key_env, base_url=options.base_url,
                detail="sending the key 'EMPTY'; fine for local servers, hosted APIs will answer 401")
    return "EMPTY"


def retry_delay(attempt: int, error: Exception, backoff_s: float, rng: random.Random) -> float:
    """The server's `Retry-After` when it sends seconds, else backoff_s * 2^attempt, jittered to 50-100 %;
    never more than `MAX_DELAY_S`."""
    retry_after = error.response.headers.get("retry-after") if isinstance(error, openai.APIStatusError) else None
    if retry_after is not None:
        try:
            return min(MAX_DELAY_S, max(0.0, float(retry_after)))
        except ValueError:  # an HTTP date: fall back to our own backoff
            pass
    return min(MAX_DELAY_S, backoff_s * 2**attempt) * rng.uniform(0.5, 1.0)


def describe(error: Exception) -> str:
    """An API error in one line, without the request (which may hold a dataset's text)."""
    if isinstance(error, openai.APIStatusError):
        body = error.body
        detail = body.get("message") or body if isinstance(body, dict) else body
        return f"HTTP {error.status_code}: {detail}"
    return f"{type(error).__name__}: {error}"


async def gather_or_cancel(calls: list[Coroutine[Any, Any, T]]) -> list[T]:
    """Like `asyncio.gather`, but a failure cancels the other calls instead of leaving them running."""
    tasks = [asyncio.ensure_future(call) for call in calls]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
