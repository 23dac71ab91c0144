"""Who is calling: the authenticated principal of the current gRPC call (issue 13).

Why a context variable: the server's auth layer (`selfaware/grpc_server.py`) verifies the caller's credentials
once per call and binds the principal here, so a servicer asks `current_principal()` instead of parsing metadata,
and domain code that needs an owner takes it as an argument. Authentication switched off (`auth_mode = none`,
allowed on a loopback address only) binds `LOCAL`, a single local user who is an admin.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass, field

ADMIN = "admin"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: `subject` owns what it creates; `roles` grant more (`admin` sees everything)."""

    subject: str
    roles: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles


#: The caller when authentication is off: the one local user, who may see and do everything.
LOCAL = Principal("local", frozenset({ADMIN}))

_principal: contextvars.ContextVar[Principal] = contextvars.ContextVar("selfaware_principal", default=LOCAL)


def current_principal() -> Principal:
    """The caller of the gRPC call being served (`LOCAL` outside one, or with authentication off)."""
    return _principal.get()


@contextlib.contextmanager
def acting_as(principal: Principal) -> Iterator[Principal]:
    """Bind `principal` for the code inside (the auth layer around each call; tests)."""
    token = _principal.set(principal)
    try:
        yield principal
    finally:
        _principal.reset(token)
