"""The one event-bus module: NATS connection, streams, subjects, durable pull consumers and the ack policy.

Handlers are plain async functions `handler(event, delivery)` that take a decoded protobuf event. The bus, not the
handler, acks by outcome:

- return                      -> ack
- `Cancelled` (experiment over) -> ack: the work is deliberately not done
- `HandBack` (shutting down)  -> nak at once, so another replica picks the work up
- `PermanentError`            -> dead-letter and term (retrying cannot help)
- any other exception         -> nak with backoff; on the last allowed delivery, dead-letter and term
- undecodable payload         -> dead-letter and term

While a handler runs, the bus sends `in_progress` heartbeats every third of `ack_wait`, so training that takes
minutes keeps its message. Every publish carries a `Nats-Msg-Id`, so JetStream drops duplicates inside the
stream's duplicate window; handlers stay idempotent for redeliveries outside it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import nats
import nats.errors
import nats.js.errors
import structlog
from google.protobuf.message import DecodeError, Message
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StreamConfig

from selfaware.errors import Cancelled, PermanentError
from selfaware.logs import bind_context
from selfaware.v1 import events_pb2 as ev

log = structlog.get_logger(__name__)

EVENTS_STREAM = "SELFAWARE_EVENTS"
DLQ_STREAM = "SELFAWARE_DLQ"
DLQ_PREFIX = "selfaware.dlq."

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
    concurrency: int
    stream: str
    subject: str


@dataclass
class _InFlight:
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


def stream_configs(duplicate_window_s: float = 600.0) -> list[StreamConfig]:
    """The two streams: events (replayable for two weeks) and dead letters."""
    two_weeks = 14 * 24 * 3600.0
    return [
        StreamConfig(
            name=EVENTS_STREAM,
            subjects=["selfaware.events.>"],
            duplicate_window=duplicate_window_s,
            max_age=two_weeks,
        ),
        StreamConfig(name=DLQ_STREAM, subjects=[DLQ_PREFIX + ">"], duplicate_window=duplicate_window_s),
    ]


class EventBus:
    """A NATS connection with the platform's streams, used to publish events and run durable handlers."""

    def __init__(self, nc: nats.NATS, *, max_deliver: int = 4, ack_wait_s: float = 60.0) -> None:
        self.nc = nc
        self.js = nc.jetstream()
        self.max_deliver = max_deliver
        self.ack_wait_s = ack_wait_s
        self._subs: list[_Subscription] = []
        self._workers: list[asyncio.Task[None]] = []
        self._inflight = _InFlight()
        self._closing = asyncio.Event()
        self._stop_requested = threading.Event()

    @classmethod
    async def connect(cls, url: str, *, name: str, max_deliver: int = 4, ack_wait_s: float = 60.0) -> EventBus:
        """Connect and make sure the streams exist (idempotent, safe for every replica to call)."""
        nc = await nats.connect(url, name=name, max_reconnect_attempts=-1, reconnect_time_wait=0.5)
        bus = cls(nc, max_deliver=max_deliver, ack_wait_s=ack_wait_s)
        for config in stream_configs():
            try:
                await bus.js.add_stream(config)
            except nats.js.errors.BadRequestError:
                await bus.js.update_stream(config)
        return bus

    async def publish(self, event: Message, *, msg_id: str) -> bool:
        """Publish `event` on its subject with `msg_id` for deduplication; False if JetStream saw it already."""
        subject = SUBJECTS[type(event)]
        ack = await self.js.publish(subject, event.SerializeToString(), headers={"Nats-Msg-Id": msg_id})
        log.debug("event_published", subject=subject, msg_id=msg_id, duplicate=ack.duplicate)
        return not ack.duplicate

    def subscribe(self, event_type: type[E], durable: str, handler: Callable[[E, Delivery], Awaitable[None]],
                  *, concurrency: int = 1) -> None:
        """Declare a durable pull consumer for `event_type`; consumption starts with `start()`."""
        subject = SUBJECTS[event_type]
        stream = DLQ_STREAM if event_type is ev.DeadLetter else EVENTS_STREAM
        self._subs.append(_Subscription(event_type, durable, handler, concurrency, stream, subject))

    async def start(self) -> None:
        """Create or bind the durable consumers and start fetching."""
        for sub in self._subs:
            config = ConsumerConfig(
                durable_name=sub.durable,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=self.ack_wait_s,
                max_deliver=self.max_deliver,
                filter_subject=sub.subject,
                max_ack_pending=max(sub.concurrency, 1) * 4,
            )
            psub = await self.js.pull_subscribe(sub.subject, durable=sub.durable, stream=sub.stream, config=config)
            for _ in range(sub.concurrency):
                self._workers.append(asyncio.create_task(self._fetch_loop(sub, psub), name=sub.durable))

    async def _fetch_loop(self, sub: _Subscription, psub: Any) -> None:
        while not self._closing.is_set():
            try:
                msgs = await psub.fetch(batch=1, timeout=1.0)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            except nats.errors.ConnectionClosedError:
                return
            for msg in msgs:
                task = asyncio.create_task(self._dispatch(sub, msg))
                self._inflight.tasks.add(task)
                try:
                    await asyncio.shield(task)
                except asyncio.CancelledError:
                    if not task.done():
                        task.cancel()
                    raise
                finally:
                    self._inflight.tasks.discard(task)

    async def _dispatch(self, sub: _Subscription, msg: Any) -> None:
        deliveries = msg.metadata.num_delivered
        started = time.monotonic()
        try:
            event = sub.event_type.FromString(msg.data)
        except DecodeError as exc:
            bind_context(subject=msg.subject, consumer=sub.durable, delivery=deliveries)
            await self._dead_letter(sub, msg, "", f"undecodable {sub.event_type.__name__}: {exc}")
            return
        bind_context(subject=msg.subject, consumer=sub.durable, delivery=deliveries,
                     experiment_id=getattr(event, "experiment_id", ""))
        heartbeat = asyncio.create_task(self._heartbeat(msg))
        outcome = "ack"
        try:
            await sub.handler(event, Delivery(msg.subject, deliveries, self._stop_requested))
            await msg.ack()
        except Cancelled:
            outcome = "cancelled"  # the experiment ended; the work is deliberately not done
            await msg.ack()
        except HandBack:
            outcome = "handed_back"
            await msg.nak()
        except asyncio.CancelledError:
            outcome = "handed_back"
            await msg.nak()
            raise
        except PermanentError as exc:
            outcome = "dead_lettered"
            await self._dead_letter(sub, msg, getattr(event, "experiment_id", ""), str(exc))
        except Exception as exc:  # noqa: BLE001 - the bus decides by outcome, and logs the traceback
            if deliveries >= self.max_deliver:
                outcome = "dead_lettered"
                log.exception("handler_failed_for_good")
                await self._dead_letter(sub, msg, getattr(event, "experiment_id", ""), f"{type(exc).__name__}: {exc}")
            else:
                outcome = "retry"
                log.exception("handler_failed_will_retry")
                await msg.nak(delay=min(2.0**deliveries, 30.0))
        finally:
            heartbeat.cancel()
            log.info("event_handled", outcome=outcome, duration_s=round(time.monotonic() - started, 3))

    async def _heartbeat(self, msg: Any) -> None:
        while True:
            await asyncio.sleep(self.ack_wait_s / 3)
            try:
                await msg.in_progress()
            except Exception:  # noqa: BLE001 - a lost heartbeat only risks a redelivery, which is idempotent
                log.warning("heartbeat_failed")

    async def _dead_letter(self, sub: _Subscription, msg: Any, experiment_id: str, error: str) -> None:
        letter = ev.DeadLetter(
            experiment_id=experiment_id,
            subject=msg.subject,
            consumer=sub.durable,
            error=error[:4000],
            deliveries=msg.metadata.num_delivered,
            payload=msg.data,
        )
        suffix = msg.subject.removeprefix("selfaware.events.")
        msg_id = f"dlq:{sub.durable}:{msg.metadata.sequence.stream}"
        await self.js.publish(DLQ_PREFIX + suffix, letter.SerializeToString(), headers={"Nats-Msg-Id": msg_id})
        await msg.term()
        log.error("event_dead_lettered", error=error[:500])

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
            await self.nc.flush()
            await self.nc.close()

    async def close(self) -> None:
        """Close without waiting (tests, and clients that only publish)."""
        await self.drain(grace_s=0.0)
