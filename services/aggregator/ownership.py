"""Who may see and change an experiment, a sweep or a dead letter (issue 13): the owner, and an admin.

The owner is the `Principal.subject` that submitted it (`Experiment.owner`, `Sweep.owner`; a sweep's cells get
the sweep's owner), set by the aggregator at submit and never read from the request. An admin
(`Principal.is_admin`; `LOCAL`, the one user when authentication is off, is one) sees and does everything.

Why "nobody" owns the experiments stored before owners existed (an empty `owner`): the platform cannot tell
whose they were, and guessing would hand one user's specs and reports to another; an admin can still read,
cancel and purge them. A refusal names the target's id only (it exists: the caller asked for it by id), never
its owner or its spec, so a denied caller learns nothing it did not send.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from selfaware.auth import Principal
from selfaware.errors import PermissionDenied

T = TypeVar("T")


def may_access(principal: Principal, owner: str) -> bool:
    """True for an admin, and for the owner of a thing that has one."""
    return principal.is_admin or (bool(owner) and owner == principal.subject)


def check(principal: Principal, owner: str, what: str) -> None:
    """Raise PermissionDenied (naming `what`, e.g. "experiment 1a2b3c") unless `principal` may access it."""
    if not may_access(principal, owner):
        raise PermissionDenied(f"{what} is not yours: only its owner or an admin may use it")


def visible(principal: Principal, items: Iterable[T], owner_of: Callable[[T], str]) -> list[T]:
    """The items `principal` may see: all of them for an admin, else the principal's own."""
    return [item for item in items if may_access(principal, owner_of(item))]
