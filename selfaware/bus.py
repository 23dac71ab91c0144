"""The one event-bus module: NATS connection, streams, subjects, durable pull consumers and the ack policy.

Handlers are plain async functions `handler(event, delivery)` that take a decoded protobuf event. The bus, not the
handler, settles each message by outcome:

- return                        -> ack
- `Cancelled` (experiment over) -> ack: the work is deliberately not done
- `HandBack` (shutting down)    -> hand back (below), so another replica picks the work up
- `PermanentError`              -> dead-letter and term (retrying cannot help)
- any other exception           -> nak with backoff; on the last allowed delivery, dead-letter and term
- undecodable payload           -> dead-letter and term
- a delivery past `max_deliver` -> dead-letter and term without running the handler (the workers before it died)

Why the bus, not JetStream, counts deliveries: JetStream silently stops redelivering a message at its
`max_deliver`, so a worker killed on the last allowed delivery (or a dead letter that failed to publish) would
leave the job neither retried nor dead-lettered. Consumers are declared without a server-side limit; the bus
dead-letters, and a dead letter that cannot be published is nakked and tried again on the next delivery.

Why a hand-back is a copy, not a nak: a nak counts as a delivery, so a job handed back on its last allowed
delivery would never run again. The bus publishes a copy (same payload and headers, `Nats-Msg-Id`
`<consumer>:handback:<stream seq>`) on the consumer's own subject `selfaware.handback.<stream>.<consumer>`, which
only that consumer reads (other consumers and `selfaware.events.>` watchers never see it again), then acks the
original. The copy's delivery count starts afresh; its `Selfaware-Deliveries` header carries the deliveries that
did count (failures, crashes), so `Delivery.deliveries` goes on counting those. A crash between the publish and
the ack gives a duplicate, which handlers tolerate (they are idempotent); a failed publish falls back to a nak.

Why workers are supervised: each worker (one per unit of `concurrency`) binds its consumer, creating or updating
it to the current config, and survives anything. A failed ack, nak, term, heartbeat or dead-letter publish (a
reconnect, say) is logged and the message redelivers after `ack_wait`. A consumer that cannot fetch (deleted,
its stream gone, NATS down) is re-declared with backoff, and meanwhile `consumers_healthy()` is False, which the
service's gRPC health reports as NOT_SERVING (`watch_health`).

Timing and limits: while a handler runs, the bus sends `in_progress` heartbeats every third of `ack_wait`
(default 15 s, so a dead worker's message goes to another within seconds while long work keeps its own). Blocking
work must run in a thread; a late heartbeat is logged. `concurrency` is handlers per replica; `max_ack_pending`
(default 1024) caps a consumer's unacked messages across all replicas. Both can be set per consumer
(`ServiceConfig.consumer_limits`). Every publish carries a `Nats-Msg-Id`, so JetStream drops duplicates inside
the stream's duplicate window; handlers stay idempotent for redeliveries outside it.

Metrics (`selfaware/metrics.py`): events settled by consumer and outcome, handlers in flight, and every
`LAG_POLL_S` each durable consumer's `num_pending` and `num_ack_pending` as JetStream reports them (one
`consumer_info` per consumer, whichever replica asks; a failed poll keeps the last values and is retried).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import nats
import nats.errors
import nats.js.errors
import structlog
from google.protobuf.message import DecodeError, Message
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig

from selfaware import metrics
from selfaware.config import ConsumerLimits, ServiceConfig, require
from selfaware.errors import Cancelled, PermanentError
from selfaware.logs import bind_context
from selfaware.redact import redact
from selfaware.v1 import events_pb2 as ev

log = structlog.get_logger(__name__)

EVENTS_STREAM = "SELFAWARE_EVENTS"
DLQ_STREAM = "SELFAWARE_DLQ"
DLQ_PREFIX = "selfaware.dlq."
#: Every event subject starts with it (`SUBJECTS`).
EVENTS_PREFIX = "selfaware.events."
#: Per stream, the prefix of each consumer's own hand-back subject (`<prefix><durable>`).
HANDBACK_PREFIX = {EVENTS_STREAM: "selfaware.handback.events.", DLQ_STREAM: "selfaware.handback.dlq."}
#: Headers of a handed-back copy: the subject the event was first published on, and the deliveries that counted.
SUBJECT_HEADER = "Selfaware-Subject"
DELIVERIES_HEADER = "Selfaware-Deliveries"
DEFAULT_ACK_WAIT_S = 15.0
#: How long the dead-letter stream keeps a letter (its payload is an experiment's event): a week by default.
DEAD_LETTER_MAX_AGE_S = 7 * 24 * 3600.0
DEFAULT_MAX_ACK_PENDING = 1024
#: How often an idle worker checks that its consumer still exists: fetching from a deleted one just times out.
CHECK_S = 5.0
#: First and longest pause between attempts to re-declare a consumer that cannot run.
RETRY_S = (0.5, 30.0)
#: How often the bus reads its consumers' lag for the metrics.
LAG_POLL_S = 5.0

#: The subject of every event type. One event type per subject; the subject says what happened.
SUBJECTS: dict[type[Message], str] = {
    ev.ExperimentSubmitted: "selfaware.events.experiment.submitted",
    ev.ExperimentCancelled: "selfaware.events.experiment.cancelled",
    ev.DatasetReady: "selfaware.events.dataset.ready",
    ev.TrainingRequested: "selfaware.events.training.requested",
    ev.AdapterReady: "selfaware.events.adapter.ready",
    ev.EvaluationRequested: "selfaware.events.evaluation.requested",
    ev.EvaluationCompleted: "selfaware.events.evaluation.completed",
    ev.ReportReady: "selfaware.events.report.ready",
    ev.DeadLetter: DLQ_PREFIX + ">",
}
EVENT_TYPES: dict[str, type[Message]] = {s: t for t, s in SUBJECTS.items() if t is not ev.DeadLetter}

E = TypeVar("E", bound=Message)


class HandBack(Exception):
    """Raised by long work that stopped because the service is shutting down; the event is redelivered."""


@dataclass
class Delivery:
    """What a handler may know about the message it is handling."""

    subject: str
    #: Deliveries so far that counted, this one included (a hand-back does not count).
    deliveries: int
    #: Set when the service is shutting down and the grace period is over: long work should stop and raise
    #: HandBack. A threading.Event, so work running in a worker thread can poll it.
    stop_requested: threading.Event


Handler = Callable[[Any, Delivery], Awaitable[None]]


@dataclass
class _Subscription:
    event_type: type[Message]
    durable: str
    handler: Handler
    stream: str
    subject: str
    concurrency: int
    max_ack_pending: int

    @property
    def handback_subject(self) -> str:
        return HANDBACK_PREFIX[self.stream] + self.durable


@dataclass
class _InFlight:
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


def stream_configs(duplicate_window_s: float = 600.0, replicas: int = 1,
                   dead_letter_max_age_s: float = DEAD_LETTER_MAX_AGE_S) -> list[StreamConfig]:
    """The two streams: events (replayable for two weeks) and dead letters (kept `dead_letter_max_age_s`), each
    with its hand-back subjects. `replicas`: copies on a NATS cluster (the consumers inherit it)."""
    two_weeks = 14 * 24 * 3600.0
    return [
        StreamConfig(
            name=EVENTS_STREAM,
            subjects=[EVENTS_PREFIX + ">", HANDBACK_PREFIX[EVENTS_STREAM] + ">"],
            duplicate_window=duplicate_window_s,
            max_age=two_weeks,
            num_replicas=replicas,
        ),
        StreamConfig(name=DLQ_STREAM, subjects=[DLQ_PREFIX + ">", HANDBACK_PREFIX[DLQ_STREAM] + ">"],
                     # JetStream refuses a duplicate window longer than the stream's max_age
                     duplicate_window=min(duplicate_window_s, dead_letter_max_age_s), max_age=dead_letter_max_age_s,
                     num_replicas=replicas),
    ]


def dead_letter_subject(event_subject: str) -> str:
    """Where a dead letter of an event consumed on `event_subject` is published: the one place this mapping
    lives, since NATS permissions (`nats_auth`) and the aggregator's forgery check rely on the bus using it."""
    return DLQ_PREFIX + event_subject.removeprefix(EVENTS_PREFIX)


class NotProvisioned(RuntimeError):
    """A stream or bucket is missing and this service may not create it (it runs with a NATS user)."""


#: What to do about a missing stream, in every NotProvisioned message.
PROVISION_FIX = ("run the provisioning step first (`python -m selfaware.provision` with a NATS user allowed to "
                 "create streams; the nats-provision Job on Kubernetes; the embedded stack does it itself): a "
                 "service that connects with a nats_user only checks the streams and buckets")


async def check_streams(js: Any, names: list[str]) -> None:
    """Raise NotProvisioned naming every stream of `names` that does not exist (one STREAM.INFO each)."""
    missing = []
    for name in names:
        try:
            await js.stream_info(name)
        except nats.js.errors.NotFoundError:
            missing.append(name)
    if missing:
        raise NotProvisioned(f"NATS stream{'s' if len(missing) > 1 else ''} {', '.join(missing)} missing: "
                             f"{PROVISION_FIX}")


async def create_streams(js: Any, replicas: int = 1, dead_letter_max_age_s: float = DEAD_LETTER_MAX_AGE_S) -> None:
    """Create the streams, or update them to the current config (a changed replica count or dead-letter retention
    included)."""
    for config in stream_configs(replicas=replicas, dead_letter_max_age_s=dead_letter_max_age_s):
        try:
            await js.add_stream(config)
        except nats.js.errors.BadRequestError:
            await js.update_stream(config)


def inbox_prefix(user: str) -> str:
    """Each NATS user's replies come to an inbox of its own, so its subscribe permission can be just that."""
    return f"_INBOX_{user}" if user else "_INBOX"


def connect_options(config: ServiceConfig) -> dict[str, Any]:
    """`nats.connect` keyword arguments for `config`'s NATS user (its password read from its file, never from the
    URL) and TLS (the CA that signs the servers' certificates, and a client certificate for mutual TLS)."""
    options: dict[str, Any] = {"inbox_prefix": inbox_prefix(config.nats_user)}
    setting_name = "nats_password_file"
    try:
        if config.nats_user:
            options["user"] = config.nats_user
            options["password"] = Path(config.nats_password_file).read_text().strip()
        if config.nats_tls_ca_file:
            setting_name = "nats_tls_ca_file"
            context = ssl.create_default_context(cafile=config.nats_tls_ca_file)
            if config.nats_tls_cert_file:
                setting_name = "nats_tls_cert_file"
                context.load_cert_chain(config.nats_tls_cert_file, config.nats_tls_key_file)
            options["tls"] = context
    except (OSError, ssl.SSLError) as exc:
        require(False, setting_name, f"a readable file ({type(exc).__name__}: {exc.strerror or exc})")
    return options


async def _settle(action: str, call: Callable[[], Awaitable[Any]]) -> bool:
    """Run one ack, nak, term, heartbeat or publish; a failure is logged (the message redelivers after ack_wait)."""
    try:
        await call()
    except Exception:  # noqa: BLE001 - a reconnect or a closed connection must not stop the worker
        log.warning("settle_failed", action=action, exc_info=True)
        return False
    return True


class EventBus:
    """A NATS connection with the platform's streams, used to publish events and run durable handlers."""

    def __init__(self, nc: nats.NATS, *, max_deliver: int = 4, ack_wait_s: float = DEFAULT_ACK_WAIT_S,
                 consumer_limits: Mapping[str, ConsumerLimits] | None = None, replicas: int = 1,
                 dead_letter_max_age_s: float = DEAD_LETTER_MAX_AGE_S, provision: bool = True) -> None:
        self.nc = nc
        self.replicas, self.dead_letter_max_age_s = replicas, dead_letter_max_age_s
        self.provision = provision
        self.js = nc.jetstream()
        self.max_deliver = max_deliver
        self.ack_wait_s = ack_wait_s
        self.consumer_limits = dict(consumer_limits or {})
        self._subs: list[_Subscription] = []
        self._workers: list[asyncio.Task[None]] = []
        self._inflight = _InFlight()
        self._closing = asyncio.Event()
        self._stop_requested = threading.Event()
        self._down: set[str] = set()
        self._health_changed = asyncio.Event()

    @classmethod
    async def connect(cls, url: str, *, name: str, max_deliver: int = 4, ack_wait_s: float = DEFAULT_ACK_WAIT_S,
                      consumer_limits: Mapping[str, ConsumerLimits] | None = None, replicas: int = 1,
                      dead_letter_max_age_s: float = DEAD_LETTER_MAX_AGE_S, options: Mapping[str, Any] | None = None,
                      provision: bool = True) -> EventBus:
        """Connect and make sure the streams exist (idempotent, safe for every replica to call); `replicas`:
        copies of each stream on a NATS cluster. `options`: credentials and TLS (`connect_options`). With
        `provision` off the bus only checks that the streams exist (NotProvisioned otherwise)."""
        nc = await nats.connect(url, name=name, max_reconnect_attempts=-1, reconnect_time_wait=0.5,
                                **dict(options or {}))
        bus = cls(nc, max_deliver=max_deliver, ack_wait_s=ack_wait_s, consumer_limits=consumer_limits,
                  replicas=replicas, dead_letter_max_age_s=dead_letter_max_age_s, provision=provision)
        try:
            await bus.ensure_streams()
        except BaseException:
            await nc.close()
            raise
        return bus

    async def ensure_streams(self) -> None:
        """Create or update the streams (`create_streams`), or with `provision` off check that they exist."""
        if self.provision:
            await create_streams(self.js, self.replicas, self.dead_letter_max_age_s)
        else:
            await check_streams(self.js, [config.name for config in stream_configs()])

    async def publish(self, event: Message, *, msg_id: str) -> bool:
        """Publish `event` on its subject with `msg_id` for deduplication; False if JetStream saw it already."""
        subject = SUBJECTS[type(event)]
        ack = await self.js.publish(subject, event.SerializeToString(), headers={"Nats-Msg-Id": msg_id})
        log.debug("event_published", subject=subject, msg_id=msg_id, duplicate=ack.duplicate)
        return not ack.duplicate

    def subscribe(self, event_type: type[E], durable: str, handler: Callable[[E, Delivery], Awaitable[None]],
                  *, concurrency: int = 1) -> None:
        """Declare a durable pull consumer for `event_type`; consumption starts with `start()`. `consumer_limits`
        for `durable` override `concurrency` and the default `max_ack_pending`."""
        subject = SUBJECTS[event_type]
        stream = DLQ_STREAM if event_type is ev.DeadLetter else EVENTS_STREAM
        limits = self.consumer_limits.get(durable, ConsumerLimits())
        self._subs.append(_Subscription(event_type, durable, handler, stream, subject,
                                        concurrency=limits.concurrency or concurrency,
                                        max_ack_pending=limits.max_ack_pending or DEFAULT_MAX_ACK_PENDING))

    async def start(self) -> None:
        """Declare the durable consumers and start their workers; one that cannot bind yet keeps trying."""
        if unused := sorted(set(self.consumer_limits) - {sub.durable for sub in self._subs}):
            log.info("consumer_limits_not_used_here", consumers=unused)
        for sub in self._subs:
            metrics.declare_consumer(sub.durable)
            for i in range(sub.concurrency):
                worker = f"{sub.durable}#{i}"
                psub = await self._bind(sub, worker)
                self._workers.append(asyncio.create_task(self._work(sub, worker, psub), name=worker))
        if self._subs:
            self._workers.append(asyncio.create_task(self._poll_lag(), name="lag"))

    async def _poll_lag(self) -> None:
        """Record each durable consumer's lag every `LAG_POLL_S` until closing; NATS being down only skips a poll."""
        consumers = sorted({(sub.stream, sub.durable) for sub in self._subs})
        while not self._closing.is_set():
            for stream, durable in consumers:
                try:
                    info = await self.js.consumer_info(stream, durable, timeout=2.0)
                except Exception as exc:  # noqa: BLE001 - a reconnect or a lost consumer: the workers deal with it
                    log.debug("consumer_lag_unread", consumer=durable, error=repr(exc))
                    continue
                metrics.consumer_lag(durable, info.num_pending or 0, info.num_ack_pending or 0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), LAG_POLL_S)

    def consumers_healthy(self) -> bool:
        """True while connected and every worker's consumer is bound: the service is SERVING then."""
        return self.nc.is_connected and not self._down

    async def watch_health(self, report: Callable[[bool], Awaitable[None]], poll_s: float = 1.0) -> None:
        """Call `report(consumers_healthy())` now and on every change, until cancelled (consumer changes at once,
        the connection's state within `poll_s`)."""
        last: bool | None = None
        while True:
            self._health_changed.clear()
            if (healthy := self.consumers_healthy()) != last:
                await report(healthy)
                last = healthy
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._health_changed.wait(), poll_s)

    def _set_down(self, worker: str, down: bool) -> None:
        if down == (worker in self._down):
            return
        if down:
            self._down.add(worker)
            log.warning("consumer_down", worker=worker)
        else:
            self._down.discard(worker)
            log.info("consumer_up", worker=worker)
        self._health_changed.set()

    async def _bind(self, sub: _Subscription, worker: str) -> Any | None:
        """Create the consumer or update it to the current config, and subscribe; None (logged) on failure."""
        config = ConsumerConfig(
            name=sub.durable,
            durable_name=sub.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.ack_wait_s,
            max_deliver=-1,  # the bus counts deliveries (module docstring)
            filter_subjects=[sub.subject, sub.handback_subject],
            max_ack_pending=sub.max_ack_pending,
        )
        try:
            try:
                await self.js.add_consumer(sub.stream, config)
            except nats.js.errors.NotFoundError:  # the stream is gone: a NATS server that lost its store
                await self.ensure_streams()
                await self.js.add_consumer(sub.stream, config)
            psub = await self.js.pull_subscribe_bind(sub.durable, stream=sub.stream)
        except Exception:  # noqa: BLE001 - retried with backoff by the worker
            log.warning("consumer_bind_failed", worker=worker, exc_info=True)
            self._set_down(worker, True)
            return None
        self._set_down(worker, False)
        return psub

    async def _work(self, sub: _Subscription, worker: str, psub: Any | None) -> None:
        """One worker: fetch and handle one message at a time; rebind with backoff while the consumer fails."""
        delay, checked = RETRY_S[0], time.monotonic()
        while not self._closing.is_set():
            if psub is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), delay)
                if self._closing.is_set():
                    return
                delay = min(delay * 2, RETRY_S[1])
                if (psub := await self._bind(sub, worker)) is not None:
                    delay, checked = RETRY_S[0], time.monotonic()
                continue
            try:
                msgs = await psub.fetch(batch=1, timeout=1.0)
            except (TimeoutError, nats.errors.TimeoutError):
                if time.monotonic() - checked > CHECK_S:
                    checked = time.monotonic()
                    if not await _settle("consumer_check", lambda: self.js.consumer_info(sub.stream, sub.durable)):
                        await self._drop(psub, worker)
                        psub = None
                continue
            except Exception:  # noqa: BLE001 - NATS down, consumer or stream gone: rebind
                if not self._closing.is_set():
                    log.warning("fetch_failed", worker=worker, exc_info=True)
                    await self._drop(psub, worker)
                    psub = None
                continue
            for msg in msgs:
                await self._handle(sub, msg)

    async def _drop(self, psub: Any, worker: str) -> None:
        self._set_down(worker, True)
        await _settle("unsubscribe", psub.unsubscribe)

    async def _handle(self, sub: _Subscription, msg: Any) -> None:
        task = asyncio.create_task(self._dispatch(sub, msg))
        self._inflight.tasks.add(task)
        try:
            with metrics.handling(sub.durable):
                await asyncio.shield(task)
        except asyncio.CancelledError:
            if not task.done():
                task.cancel()
            raise
        except Exception:  # noqa: BLE001 - _dispatch settles every outcome itself; this is a bug, not a reason to stop
            log.exception("dispatch_failed")
        finally:
            self._inflight.tasks.discard(task)

    def _delivery(self, msg: Any) -> Delivery:
        headers = msg.headers or {}
        counted = headers.get(DELIVERIES_HEADER, "0")
        deliveries = (int(counted) if counted.isdecimal() else 0) + msg.metadata.num_delivered
        return Delivery(headers.get(SUBJECT_HEADER, msg.subject), deliveries, self._stop_requested)

    async def _dispatch(self, sub: _Subscription, msg: Any) -> None:
        delivery = self._delivery(msg)
        started = time.monotonic()
        bind_context(subject=delivery.subject, consumer=sub.durable, delivery=delivery.deliveries)
        try:
            event = sub.event_type.FromString(msg.data)
        except DecodeError as exc:
            metrics.event_handled(sub.durable, await self._dead_letter(
                sub, msg, delivery, "", f"undecodable {sub.event_type.__name__}: {exc}"))
            return
        experiment_id = getattr(event, "experiment_id", "")
        bind_context(experiment_id=experiment_id)
        if delivery.deliveries > self.max_deliver:
            metrics.event_handled(sub.durable, await self._dead_letter(
                sub, msg, delivery, experiment_id,
                f"no outcome after {self.max_deliver} deliveries: the worker stopped each time"))
            return
        heartbeat = asyncio.create_task(self._heartbeat(msg))
        outcome, error = "ack", ""
        try:
            await sub.handler(event, delivery)
        except Cancelled:
            outcome = "cancelled"  # the experiment ended; the work is deliberately not done
        except HandBack:
            outcome = "handed_back"
        except asyncio.CancelledError:
            heartbeat.cancel()
            metrics.event_handled(sub.durable, await self._hand_back(sub, msg, delivery))
            log.info("event_handled", outcome="handed_back", duration_s=round(time.monotonic() - started, 3))
            raise
        except PermanentError as exc:
            outcome, error = "dead_lettered", str(exc)
        except Exception as exc:  # noqa: BLE001 - the bus decides by outcome, and logs the traceback
            error = f"{type(exc).__name__}: {exc}"
            outcome = "dead_lettered" if delivery.deliveries >= self.max_deliver else "retry"
            log.exception("handler_failed_for_good" if outcome == "dead_lettered" else "handler_failed_will_retry")
        finally:
            heartbeat.cancel()
        settled = "ok"
        if outcome in {"ack", "cancelled"}:
            await _settle("ack", msg.ack)
        elif outcome == "handed_back":
            settled = await self._hand_back(sub, msg, delivery)
        elif outcome == "dead_lettered":
            settled = await self._dead_letter(sub, msg, delivery, experiment_id, error)
        else:
            await _settle("nak", lambda: msg.nak(delay=min(2.0**delivery.deliveries, 30.0)))
            settled = "retried"
        metrics.event_handled(sub.durable, settled)
        log.info("event_handled", outcome=outcome, duration_s=round(time.monotonic() - started, 3))

    async def _heartbeat(self, msg: Any) -> None:
        interval = self.ack_wait_s / 3
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + interval
            await asyncio.sleep(interval)
            if (late := loop.time() - due) > interval / 2:
                log.warning("heartbeat_late", late_s=round(late, 1), why="blocking work on the event loop")
            await _settle("in_progress", msg.in_progress)

    async def _hand_back(self, sub: _Subscription, msg: Any, delivery: Delivery) -> str:
        """Publish a copy for this consumer alone, then ack the original (module docstring: why). Returns the
        outcome for the metrics: handed_back, or retried when the copy could not be published."""
        headers = {k: v for k, v in (msg.headers or {}).items() if not k.startswith("Nats-")}
        headers |= {
            "Nats-Msg-Id": f"{sub.durable}:handback:{msg.metadata.sequence.stream}",
            SUBJECT_HEADER: delivery.subject,
            DELIVERIES_HEADER: str(delivery.deliveries - 1),  # this delivery does not count
        }
        if await _settle("hand_back", lambda: self.js.publish(sub.handback_subject, msg.data, headers=headers)):
            await _settle("ack", msg.ack)
            return "handed_back"
        await _settle("nak", msg.nak)
        return "retried"

    async def _dead_letter(self, sub: _Subscription, msg: Any, delivery: Delivery, experiment_id: str,
                           error: str) -> str:
        """Publish the dead letter, then term; returns dead_lettered, or retried when it could not be published."""
        letter = ev.DeadLetter(
            experiment_id=experiment_id,
            subject=delivery.subject,
            consumer=sub.durable,
            error=redact(error)[:4000],
            deliveries=delivery.deliveries,
            payload=msg.data,
        )
        subject = dead_letter_subject(delivery.subject)
        headers = {"Nats-Msg-Id": f"dlq:{sub.durable}:{msg.metadata.sequence.stream}"}
        if await _settle("dead_letter", lambda: self.js.publish(subject, letter.SerializeToString(), headers=headers)):
            await _settle("term", msg.term)
            log.error("event_dead_lettered", error=error[:500])
            return "dead_lettered"
        # tried again on the next delivery, which is past the limit and goes straight here
        await _settle("nak", lambda: msg.nak(delay=min(2.0**delivery.deliveries, 30.0)))
        return "retried"

    async def drain(self, grace_s: float) -> None:
        """Stop fetching, let in-flight handlers finish for `grace_s`, then hand the rest back and close."""
        self._closing.set()
        if self._inflight.tasks:
            log.info("draining", in_flight=len(self._inflight.tasks), grace_s=grace_s)
            await asyncio.wait(set(self._inflight.tasks), timeout=grace_s)
        if self._inflight.tasks:
            self._stop_requested.set()
            await asyncio.wait(set(self._inflight.tasks), timeout=10.0)
        for task in [*self._inflight.tasks, *self._workers]:
            task.cancel()
        await asyncio.gather(*self._inflight.tasks, *self._workers, return_exceptions=True)
        # Every message is acked or handed back by now, so flush our own publishes and close. (nc.drain() would
        # wait its full timeout on the pull subscriptions' expired fetch requests.)
        if not self.nc.is_closed:
            await _settle("flush", self.nc.flush)
            await self.nc.close()

    async def close(self) -> None:
        """Close without waiting (tests, and clients that only publish)."""
        await self.drain(grace_s=0.0)
