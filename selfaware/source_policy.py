"""What a process may read on behalf of a spec: source roots, URL schemes, private hosts, a byte cap, a timeout.

Why: a spec names files and URLs, and the services read them with their own permissions for whoever reaches
their gRPC port. Unchecked, a spec read `/etc/passwd` and `/proc/self/environ`, hung the generator on a FIFO,
grew it to 3 GB from `/dev/zero`, and reached servers on loopback. So a service reads only regular files under
its source roots, fetches only the schemes it allows, refuses loopback, private and link-local addresses unless
allowed, and stops at a byte cap and a deadline.

A service builds its policy from its config (`SourceReadingConfig`, strict by default) and installs it with
`use_source_policy` while it wires itself, before it serves. A context variable holds it, so it applies to that
service's tasks and to the threads they start with `asyncio.to_thread`, and the four services the in-process
tests run keep theirs apart. Code outside any service (the CLI reading its own user's files, unit tests) gets
`SourcePolicy()`: any local path, any host. The limits that protect the reader itself (regular files only, never
`/proc`, `/sys` or `/dev`, the byte cap, the deadline) hold under every policy.
"""

from __future__ import annotations

import contextvars
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from selfaware.config import ServiceConfig, require, setting
from selfaware.ids import shown

#: URL schemes a spec may use at all; a policy allows a subset (a local path needs none).
KNOWN_SCHEMES = ("file", "http", "https")
#: Pseudo-filesystems never read, whatever the roots: they hold process secrets and endless or blocking files.
NEVER_READ = (Path("/proc"), Path("/sys"), Path("/dev"))
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
PRIVATE_REFUSED = ("is a loopback, private or reserved address; this service fetches only from public ones "
                   "(setting source_allow_private_hosts)")


@dataclass(frozen=True)
class SourcePolicy:
    """What may be read; the defaults trust the caller (see the module docstring)."""

    #: Real (symlink-free) folders a local path must be inside; None: anywhere but `NEVER_READ`.
    roots: tuple[Path, ...] | None = None
    schemes: tuple[str, ...] = KNOWN_SCHEMES
    max_bytes: int = DEFAULT_MAX_BYTES
    #: No single wait on a server lasts longer, and a fetch stops at its first chunk after this long.
    timeout_s: float = 60.0
    allow_private_hosts: bool = True

    def allows_path(self, real: str) -> bool:
        """Whether the resolved path `real` may be read."""
        path = Path(real)
        if any(path == never or path.is_relative_to(never) for never in NEVER_READ):
            return False
        return self.roots is None or any(path.is_relative_to(root) for root in self.roots)

    def describe_roots(self) -> str:
        if self.roots is None:
            return ""
        return f" under the source roots ({', '.join(map(str, self.roots)) or 'none: local files are off'})"


def address_refused(address: str, policy: SourcePolicy) -> bool:
    """Whether `address` (an IP literal) is one the policy keeps away from: loopback, private, link-local,
    multicast, reserved or unspecified, unless private hosts are allowed."""
    if policy.allow_private_hosts:
        return False
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def host_problem(host: str, policy: SourcePolicy) -> str | None:
    """Why a URL's host is refused without resolving it (literal addresses and `localhost` names), or None.

    Names are resolved only when fetched, and the address actually connected to is checked then."""
    if policy.allow_private_hosts:
        return None
    name = host.lower().rstrip(".")
    if not (name == "localhost" or name.endswith(".localhost")):
        address = _literal_address(name.strip("[]"))
        if address is None or not address_refused(address, policy):
            return None  # a public address, or a name: what it resolves to is checked when it is fetched
    return f"host {shown(host, 80)} {PRIVATE_REFUSED}"


def _literal_address(host: str) -> str | None:
    """The IP address `host` spells, also in the shorthands resolvers accept (`127.1`, `2130706433`), or None
    for a name."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        return socket.inet_ntoa(socket.inet_aton(host)) if host and host[-1].isalnum() else None
    except OSError:
        return None


_TRUSTING = SourcePolicy()
_ACTIVE: contextvars.ContextVar[SourcePolicy | None] = contextvars.ContextVar("source_policy", default=None)


def use_source_policy(policy: SourcePolicy) -> None:
    """Make `policy` the one the current context (a service's task and what it starts afterwards) reads under."""
    _ACTIVE.set(policy)


def source_policy() -> SourcePolicy:
    """The policy of the current context (`SourcePolicy()` outside any service)."""
    return _ACTIVE.get() or _TRUSTING


@dataclass(frozen=True)
class SourceReadingConfig(ServiceConfig):
    """Settings of a service that reads what specs point at (the generator, and the aggregator's submit checks)."""

    source_roots: str = setting(".:../shared", "colon-separated folders local sources must be inside, relative "
                                               "to the working directory; '' turns local files off, '/' allows "
                                               "any path (never /proc, /sys or /dev)")
    source_schemes: str = setting("file,http,https", "comma-separated URL schemes sources may use (file, http, "
                                                     "https); local paths need none")
    source_max_bytes: int = setting(DEFAULT_MAX_BYTES, "most bytes read from one source file or URL")
    source_timeout_s: float = setting(60.0, "seconds a source's server may take, per wait and for the whole fetch")
    source_allow_private_hosts: bool = setting(False, "fetch URLs on loopback, private and link-local addresses")

    def __post_init__(self) -> None:
        super().__post_init__()
        schemes = self._schemes()
        require(set(schemes) <= set(KNOWN_SCHEMES), "source_schemes", f"a subset of {','.join(KNOWN_SCHEMES)}")
        require(self.source_max_bytes >= 1, "source_max_bytes", "at least 1")
        require(0 < self.source_timeout_s <= 3600, "source_timeout_s", "in (0, 3600]")

    def _schemes(self) -> tuple[str, ...]:
        return tuple(s.strip().lower() for s in self.source_schemes.split(",") if s.strip())

    def source_policy(self) -> SourcePolicy:
        """The policy these settings describe, roots resolved against the working directory now."""
        roots = tuple(dict.fromkeys(Path(os.path.realpath(p)) for p in self.source_roots.split(":") if p.strip()))
        return SourcePolicy(roots=roots, schemes=self._schemes(), max_bytes=self.source_max_bytes,
                            timeout_s=self.source_timeout_s, allow_private_hosts=self.source_allow_private_hosts)
