"""A small async client over the generated stubs, used by the CLI and the tests.

Two calls ride out an aggregator restart (or a moment without a connection) instead of failing: `watch`
reconnects with backoff and resumes where it was, and `submit` retries, but only with an idempotency key, which
makes a retry of a submission that did reach the server return the same experiment.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc

from selfaware.status import TERMINAL
from selfaware.v1 import aggregator_pb2 as pb
from selfaware.v1 import aggregator_pb2_grpc, spec_pb2, sweep_pb2
from selfaware.v1 import records_pb2 as rec

#: What a lost or refused connection looks like; only these are retried. (Any other status is an answer.)
RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE})


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: `initial_s`, doubling up to `max_s`, for at most `give_up_after_s` without progress."""

    initial_s: float = 0.5
    max_s: float = 10.0
    give_up_after_s: float = 300.0

    def delay(self, attempt: int) -> float:
        return min(self.initial_s * 2.0 ** max(attempt - 1, 0), self.max_s)


#: Called before each retry with the status that failed and the delay before the next attempt.
OnRetry = Callable[[grpc.StatusCode, float], None]
T = TypeVar("T")
M = TypeVar("M", bound=Message)


#: gRPC's own reconnect backoff grows to 120 s; a restarted aggregator is back in seconds.
RECONNECT_OPTIONS = (("grpc.initial_reconnect_backoff_ms", 250), ("grpc.min_reconnect_backoff_ms", 250),
                     ("grpc.max_reconnect_backoff_ms", 2000))


@dataclass(frozen=True)
class Credentials:
    """How a client reaches a server: a bearer token, the CA that signed the server's certificate, and (mTLS) a
    client certificate and key. Nothing set: a plaintext channel (a loopback server with auth_mode none)."""

    token: str | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None

    @property
    def secure(self) -> bool:
        return bool(self.token or self.ca_file or self.cert_file)

    def __repr__(self) -> str:  # never show the token (logs, tracebacks)
        return (f"Credentials(token={'<set>' if self.token else None}, ca_file={self.ca_file}, "
                f"cert_file={self.cert_file})")

    @classmethod
    def from_files(cls, token_file: Path | None = None, ca_file: Path | None = None, cert_file: Path | None = None,
                   key_file: Path | None = None) -> Credentials:
        """Read the token from `token_file` (its content, surrounding whitespace dropped; OSError if unreadable)."""
        token = Path(token_file).read_text().strip() if token_file else None
        return cls(token or None, ca_file, cert_file, key_file)

    def channel(self, endpoint: str, options: Sequence[tuple[str, Any]] = ()) -> grpc.aio.Channel:
        """A channel to `endpoint`: TLS with the token as call credentials, or plaintext when nothing is set."""
        if not self.secure:
            return grpc.aio.insecure_channel(endpoint, options=list(options))
        ssl = grpc.ssl_channel_credentials(
            root_certificates=Path(self.ca_file).read_bytes() if self.ca_file else None,
            private_key=Path(self.key_file).read_bytes() if self.key_file else None,
            certificate_chain=Path(self.cert_file).read_bytes() if self.cert_file else None)
        if self.token:
            ssl = grpc.composite_channel_credentials(ssl, grpc.access_token_call_credentials(self.token))
        return grpc.aio.secure_channel(endpoint, ssl, options=list(options))


#: No token, no TLS: a loopback server with auth_mode none (the in-process test fixtures).
PLAINTEXT = Credentials()


class Client:
    """The aggregator's experiment API at `endpoint` (host:port), with a token over TLS when given."""

    def __init__(self, endpoint: str, *, token: str | None = None, ca_file: Path | None = None,
                 client_cert: Path | None = None, client_key: Path | None = None,
                 credentials: Credentials | None = None) -> None:
        self.endpoint = endpoint
        self.credentials = credentials or Credentials(token, ca_file, client_cert, client_key)
        self.channel = self.credentials.channel(endpoint, RECONNECT_OPTIONS)
        self.stub = aggregator_pb2_grpc.AggregatorServiceStub(self.channel)

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.channel.close()

    async def submit(self, spec: spec_pb2.ExperimentSpec, *, idempotency_key: str = "",
                     backoff: Backoff = Backoff(give_up_after_s=60.0), on_retry: OnRetry | None = None
                     ) -> rec.Experiment:
        """Submit `spec`. With an `idempotency_key` (one per submission: the CLI makes a uuid4), UNAVAILABLE is
        retried with that same key; without one, a retry could create a second experiment, so none is made."""
        request = pb.SubmitExperimentRequest(spec=spec, idempotency_key=idempotency_key)
        if not idempotency_key:
            return await self.stub.SubmitExperiment(request)
        return await _retrying(lambda: self.stub.SubmitExperiment(request), backoff, on_retry)

    async def validate(self, spec: spec_pb2.ExperimentSpec) -> pb.ValidateExperimentResponse:
        return await self.stub.ValidateExperiment(pb.ValidateExperimentRequest(spec=spec))

    async def catalogues(self) -> pb.GetCatalogueResponse:
        return await self.stub.GetCatalogue(pb.GetCatalogueRequest())

    async def get(self, experiment_id: str) -> pb.GetExperimentResponse:
        return await self.stub.GetExperiment(pb.GetExperimentRequest(experiment_id=experiment_id))

    def watch(self, experiment_id: str, *, backoff: Backoff = Backoff(), on_retry: OnRetry | None = None
              ) -> AsyncIterator[pb.WatchExperimentResponse]:
        """The experiment's updates until it ends, across reconnects.

        A lost connection (UNAVAILABLE, or a stream that ends before the experiment does) is retried with
        `backoff`. Each new stream starts with the current value of the experiment and of every job, so an
        update already shown is skipped: the caller sees each distinct value once. Only a terminal status ends
        the watch; an answer such as NOT_FOUND, or `give_up_after_s` without a connection, raises."""
        request = pb.WatchExperimentRequest(experiment_id=experiment_id)
        return _reconnecting(
            lambda: self.stub.WatchExperiment(request),
            key=lambda u: f"job:{u.job.key}" if u.HasField("job") else "experiment",
            ended=lambda u: u.HasField("experiment") and u.experiment.status in TERMINAL,
            backoff=backoff, on_retry=on_retry)

    def watch_sweep(self, sweep_id: str, *, backoff: Backoff = Backoff(), on_retry: OnRetry | None = None
                    ) -> AsyncIterator[sweep_pb2.Sweep]:
        """The sweep's values until it ends, across reconnects, each distinct value once (as `watch`)."""
        request = pb.WatchSweepRequest(sweep_id=sweep_id)
        return _reconnecting(lambda: self.stub.WatchSweep(request), key=lambda s: "sweep",
                             ended=lambda s: s.status in TERMINAL, backoff=backoff, on_retry=on_retry)

    async def submit_sweep(self, spec: sweep_pb2.SweepSpec, *, idempotency_key: str = "",
                           backoff: Backoff = Backoff(give_up_after_s=60.0), on_retry: OnRetry | None = None
                           ) -> sweep_pb2.Sweep:
        """Submit a sweep; retried on UNAVAILABLE only with an idempotency key (as `submit`)."""
        request = pb.SubmitSweepRequest(spec=spec, idempotency_key=idempotency_key)
        if not idempotency_key:
            return await self.stub.SubmitSweep(request)
        return await _retrying(lambda: self.stub.SubmitSweep(request), backoff, on_retry)

    async def get_sweep(self, sweep_id: str) -> pb.GetSweepResponse:
        return await self.stub.GetSweep(pb.GetSweepRequest(sweep_id=sweep_id))

    async def list_sweeps(self) -> list[sweep_pb2.Sweep]:
        return list((await self.stub.ListSweeps(pb.ListSweepsRequest())).sweeps)

    async def list(self) -> list[rec.Experiment]:
        return list((await self.stub.ListExperiments(pb.ListExperimentsRequest())).experiments)

    async def cancel(self, experiment_id: str, reason: str = "") -> rec.Experiment:
        return await self.stub.CancelExperiment(pb.CancelExperimentRequest(experiment_id=experiment_id, reason=reason))

    async def report(self, experiment_id: str) -> pb.GetReportResponse:
        return await self.stub.GetReport(pb.GetReportRequest(experiment_id=experiment_id))

    async def dead_letters(self, start_seq: int = 0, limit: int = 0) -> pb.ListDeadLettersResponse:
        return await self.stub.ListDeadLetters(pb.ListDeadLettersRequest(start_seq=start_seq, limit=limit))

    async def replay_dead_letter(self, seq: int) -> pb.ReplayDeadLetterResponse:
        return await self.stub.ReplayDeadLetter(pb.ReplayDeadLetterRequest(seq=seq))

    async def purge_dead_letters(self, experiment_id: str) -> pb.PurgeDeadLettersResponse:
        return await self.stub.PurgeDeadLetters(pb.PurgeDeadLettersRequest(experiment_id=experiment_id))


async def _reconnecting(open_stream: Callable[[], AsyncIterator[M]], *, key: Callable[[M], str],
                       ended: Callable[[M], bool], backoff: Backoff, on_retry: OnRetry | None) -> AsyncIterator[M]:
    """A server stream that reconnects on UNAVAILABLE (or an early end) and skips values already yielded.

    Each new stream starts with the current values, so a value whose `key` last yielded the same bytes is
    skipped. Only `ended` ends it; another status, or `give_up_after_s` without a connection, raises."""
    shown: dict[str, bytes] = {}
    attempt, failing_since = 0, None
    loop = asyncio.get_running_loop()
    while True:
        try:
            async for update in open_stream():
                attempt, failing_since = 0, None
                value = update.SerializeToString(deterministic=True)
                if shown.get(key(update)) == value:
                    continue
                shown[key(update)] = value
                yield update
                if ended(update):
                    return
            code = grpc.StatusCode.UNAVAILABLE  # the stream ended early: the server went away
        except grpc.aio.AioRpcError as exc:
            if exc.code() not in RETRYABLE:
                raise
            code = exc.code()
            failing_since = failing_since or loop.time()
            if loop.time() - failing_since > backoff.give_up_after_s:
                raise
        attempt += 1
        delay = backoff.delay(attempt)
        if on_retry is not None:
            on_retry(code, delay)
        await asyncio.sleep(delay)


async def _retrying(call: Callable[[], Awaitable[T]], backoff: Backoff, on_retry: OnRetry | None) -> T:
    """`call()`, retried with `backoff` while it fails with a RETRYABLE status."""
    loop = asyncio.get_running_loop()
    started, attempt = loop.time(), 0
    while True:
        try:
            return await call()
        except grpc.aio.AioRpcError as exc:
            if exc.code() not in RETRYABLE or loop.time() - started > backoff.give_up_after_s:
                raise
            attempt += 1
            delay = backoff.delay(attempt)
            if on_retry is not None:
                on_retry(exc.code(), delay)
            await asyncio.sleep(delay)


async def wait_serving(endpoint: str, timeout_s: float, service: str = "",
                       credentials: Credentials = PLAINTEXT) -> None:
    """Poll the standard health service until it says SERVING (raises TimeoutError); health needs no token, but
    a TLS server needs `credentials` with its CA."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    async with credentials.channel(endpoint) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while True:
            try:
                reply = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=1.0)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.aio.AioRpcError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{endpoint} is not serving after {timeout_s:.0f} s")
            await asyncio.sleep(0.2)
