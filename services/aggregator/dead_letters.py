"""The dead-letter stream as an operator sees it: list the letters, replay one on its original subject.

The bus dead-letters an event it cannot handle (a poison payload, or a failure on the last allowed delivery) as
a `DeadLetter` that carries the original subject and payload. Replaying republishes that payload on that
subject, so every consumer of the subject gets it again; handlers are idempotent, so a consumer that had handled
the original only re-checks its job. The republish carries a new `Nats-Msg-Id` derived from the letter
(`replay:<seq>:<time>`): JetStream does not drop it as a duplicate of the original, but it does drop a second
replay of the same letter inside the duplicate window, so a retried RPC cannot publish twice. The letter is
removed after the publish; a payload that fails again comes back as a new letter under a new sequence.

The JetStream handle is handed in by `main.py` (this module imports no transport): it is read with
`stream_info` (how many letters there are), `get_msg(next=True)` (the first letter at or after a sequence, so
deleted sequences are skipped without a not-found error) and written with `publish` and `delete_msg`. A letter
replayed or deleted by another caller between those reads can still surface as an internal error; one operator
at a time is the expected use.

Who sees what (issue 13): an admin lists, replays and purges every letter; another caller only the letters of the
experiments it owns (`ownership.py`), since a letter carries its experiment's event payload. A letter of an
experiment without an owner (stored before owners existed, or gone) is an admin's. The letters go after
`dead_letter_max_age_s` (the stream's `max_age`, `selfaware/bus.py`), and `purge` removes one experiment's at once.
A non-admin's list reads the whole stream to count what it may see: bounded by the retention, and rare.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog
from google.protobuf.message import DecodeError

from selfaware.auth import Principal
from selfaware.errors import NotFound, PermissionDenied, SpecError
from selfaware.v1 import events_pb2 as ev
from services.aggregator import ownership

if TYPE_CHECKING:
    from nats.js import JetStreamContext

log = structlog.get_logger(__name__)

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


@dataclass(frozen=True)
class StoredLetter:
    """One letter and where it sits in the dead-letter stream."""

    seq: int
    dead_lettered_at: datetime
    letter: ev.DeadLetter


@dataclass(frozen=True)
class LetterPage:
    letters: list[StoredLetter]
    #: Letters in the stream in all, also those past the page.
    total: int


@dataclass(frozen=True)
class Replayed:
    subject: str
    event_seq: int


class DeadLetters:
    """List, replay and purge the letters of `stream` (its messages on `letters`, a subject pattern: the stream
    holds other messages too); a letter may be replayed only onto one of `subjects`. `owner_of(experiment_id)` is
    the experiment's owner ("" for none, or an unknown experiment)."""

    def __init__(self, js: JetStreamContext, stream: str, letters: str, subjects: Collection[str],
                 owner_of: Callable[[str], Awaitable[str]]) -> None:
        self.js, self.stream, self.letters, self.subjects = js, stream, letters, frozenset(subjects)
        self.owner_of = owner_of

    async def list(self, principal: Principal, start_seq: int = 0, limit: int = 0) -> LetterPage:
        """The letters `principal` may see from `start_seq` on, oldest first, at most `limit` (0: DEFAULT_LIMIT);
        `total` counts every letter it may see."""
        if limit > MAX_LIMIT:
            raise SpecError.single("limit", f"at most {MAX_LIMIT} letters at a time, got {limit}")
        if not principal.is_admin:
            mine = [stored for stored in (await self._walk())[0] if await self._may(principal, stored.letter)]
            return LetterPage([s for s in mine if s.seq >= start_seq][:limit or DEFAULT_LIMIT], len(mine))
        return LetterPage(*await self._walk(start_seq, limit or DEFAULT_LIMIT))

    async def replay(self, seq: int, principal: Principal) -> Replayed:
        """Republish letter `seq`'s payload on its original subject, then remove the letter (PERMISSION_DENIED
        unless `principal` is an admin or owns the letter's experiment)."""
        if seq <= 0:
            raise SpecError.single("seq", f"a dead-letter sequence is a positive number, got {seq}")
        state, total = await self._state()
        found = await self._next(seq) if total and state.first_seq <= seq <= state.last_seq else None
        if found is None or found.seq != seq:
            raise NotFound(f"dead letter {seq} not found (it may have been replayed already)")
        stored = self._stored(found)
        if not await self._may(principal, stored.letter):
            raise PermissionDenied(f"dead letter {seq} is not yours: only the owner of its experiment "
                                             "or an admin may replay it")
        subject = stored.letter.subject
        if subject not in self.subjects:
            raise SpecError.single("seq", f"dead letter {seq} came from {subject!r}, which is no event subject to "
                                   "replay onto")
        msg_id = f"replay:{seq}:{int(stored.dead_lettered_at.timestamp() * 1e6)}"
        ack = await self.js.publish(subject, stored.letter.payload, headers={"Nats-Msg-Id": msg_id})
        await self.js.delete_msg(self.stream, seq)
        log.info("dead_letter_replayed", seq=seq, subject=subject, event_seq=ack.seq, duplicate=ack.duplicate,
                 experiment_id=stored.letter.experiment_id, consumer=stored.letter.consumer)
        return Replayed(subject, ack.seq)

    async def purge(self, experiment_id: str) -> int:
        """Remove every letter of `experiment_id` (the caller checked who may); how many were removed."""
        purged = 0
        for stored in (await self._walk())[0]:
            if stored.letter.experiment_id == experiment_id:
                await self.js.delete_msg(self.stream, stored.seq)
                purged += 1
        log.info("dead_letters_purged", experiment_id=experiment_id, purged=purged)
        return purged

    async def _may(self, principal: Principal, letter: ev.DeadLetter) -> bool:
        if principal.is_admin:
            return True
        return bool(letter.experiment_id) and ownership.may_access(principal, await self.owner_of(
            letter.experiment_id))

    async def _walk(self, start_seq: int = 0, limit: int = 0) -> tuple[list[StoredLetter], int]:
        """The letters from `start_seq` on, oldest first, at most `limit` (0: all), and how many the stream
        holds in all (one stream-info read for both)."""
        state, total = await self._state()
        letters: list[StoredLetter] = []
        seq = max(start_seq, state.first_seq)
        # The count bounds the walk: each next-get below finds a letter, since at least that many exist.
        while len(letters) < min(limit or total, total) and seq <= state.last_seq:
            stored = self._stored(await self._next(seq))
            letters.append(stored)
            seq = stored.seq + 1
        return letters, total

    async def _state(self) -> tuple[Any, int]:
        """The stream's state, and how many letters it holds."""
        state = (await self.js.stream_info(self.stream, subjects_filter=self.letters)).state
        return state, sum((state.subjects or {}).values())

    async def _next(self, seq: int) -> Any:
        """The first letter at or after `seq` (the caller knows one exists)."""
        return await self.js.get_msg(self.stream, seq=seq, subject=self.letters, next=True)

    def _stored(self, msg: Any) -> StoredLetter:
        try:
            letter = ev.DeadLetter.FromString(msg.data or b"")
        except DecodeError:  # not written by the bus: show it, with its raw bytes as the payload
            letter = ev.DeadLetter(subject=msg.subject, error="not a DeadLetter", payload=msg.data or b"")
        return StoredLetter(int(msg.seq), msg.time, letter)
