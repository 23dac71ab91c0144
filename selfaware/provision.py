"""The one provisioning step: create (or update) the streams and buckets, before the services start.

Why a step of its own: creating or updating a stream needs `$JS.API.STREAM.CREATE/UPDATE`, and a user allowed to
update a stream can rewrite its limits (`max_age`, `max_msgs_per_subject` on the state bucket) and so destroy
state without any key permission. So the services' NATS users are not allowed it (`selfaware/nats_auth.py`): a
service that runs with a `nats_user` only checks the streams (`check`) and fails with `NotProvisioned`, naming
the missing ones and this step, when they are absent. The embedded stack runs `provision` with its provisioning
user before it starts the services; on Kubernetes the `nats-provision` Job runs `python -m selfaware.provision`.
A service without a `nats_user` (a local NATS without accounts, the in-process tests) still creates them itself.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import nats
import structlog

from selfaware.bus import (
    DEAD_LETTER_MAX_AGE_S,
    DLQ_STREAM,
    EVENTS_STREAM,
    NotProvisioned,
    check_streams,
    connect_options,
    create_streams,
)
from selfaware.config import ConfigError, ServiceConfig, load_config
from selfaware.logs import configure_logging
from selfaware.state import STATE_BUCKET, StateStore
from selfaware.store import ARTIFACTS_BUCKET, ArtifactStore

log = structlog.get_logger(__name__)

#: Every stream the services use: the two event streams and the streams behind the KV and Object Store buckets.
STREAMS = (EVENTS_STREAM, DLQ_STREAM, f"KV_{STATE_BUCKET}", f"OBJ_{ARTIFACTS_BUCKET}")

__all__ = ["STREAMS", "NotProvisioned", "check", "main", "provision"]


async def provision(js: Any, replicas: int = 1, dead_letter_max_age_s: float = DEAD_LETTER_MAX_AGE_S) -> None:
    """Create the streams and buckets, or bring the streams to the current config; idempotent."""
    await create_streams(js, replicas, dead_letter_max_age_s)
    await StateStore.open(js, replicas)
    await ArtifactStore.open(js, Path("."), replicas)  # the cache dir is not used: nothing is read or written


async def check(js: Any) -> None:
    """Raise NotProvisioned, naming the missing streams and the fix, unless every stream exists."""
    await check_streams(js, list(STREAMS))


async def _run(config: ServiceConfig) -> None:
    nc = await nats.connect(config.nats_url, name="provision", connect_timeout=10, max_reconnect_attempts=3,
                            **connect_options(config))
    try:
        await provision(nc.jetstream(), config.nats_replicas, config.dead_letter_max_age_s)
        await check(nc.jetstream())
    finally:
        await nc.close()
    log.info("nats_provisioned", streams=list(STREAMS), replicas=config.nats_replicas)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m selfaware.provision`: the service settings (flags or SELFAWARE_* env) of a user allowed to
    create streams; exit 2 on a bad setting, 1 when NATS refuses."""
    prog = "python -m selfaware.provision"
    try:
        config = load_config(ServiceConfig, sys.argv[1:] if argv is None else argv, prog=prog)
    except ConfigError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    configure_logging("provision", config.log_level, config.log_format)
    try:
        asyncio.run(_run(config))
    except Exception as exc:  # noqa: BLE001 - one clear line for the Job's log, then a failed exit
        log.error("nats_provision_failed", error=repr(exc))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
