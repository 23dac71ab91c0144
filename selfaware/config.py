"""The one config loader: typed, frozen dataclasses filled from flags, then `SELFAWARE_*` env vars, then defaults.

Every field is declared with `setting(default, help)`; the CLI flags (`--field-name`) and their help text are
generated from the same fields, so docs, flags and env vars cannot drift apart. No other module reads
`os.environ`: a process calls `load_config` once and passes the object down.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from selfaware.errors import PermanentError

C = TypeVar("C")
ENV_PREFIX = "SELFAWARE_"


class ConfigError(PermanentError):
    """A config value is invalid; the message names the flag and the env var."""


def setting(default: Any, help: str) -> Any:
    """Declare one config field with its default and its one-line help."""
    return dataclasses.field(default=default, metadata={"help": help})


@dataclasses.dataclass(frozen=True)
class ServiceConfig:
    """Settings every service shares."""

    nats_url: str = setting("nats://127.0.0.1:4222", "NATS server URL (JetStream enabled)")
    grpc_host: str = setting("127.0.0.1", "address the gRPC server binds to")
    grpc_port: int = setting(50051, "gRPC port")
    log_level: str = setting("info", "minimum log level: debug, info, warning or error")
    log_format: str = setting("auto", "log renderer: json, console, or auto (console on a terminal)")
    data_dir: Path = setting(Path("~/.cache/selfaware"), "local cache and scratch space (artifacts/, models/, scratch/)")
    shutdown_grace_s: float = setting(20.0, "seconds in-flight work may take to finish after SIGTERM")
    max_deliver: int = setting(4, "deliveries of one event before it is dead-lettered")
    ack_wait_s: float = setting(60.0, "seconds JetStream waits for an ack; handlers heartbeat at a third of it")

    def __post_init__(self) -> None:
        require(self.log_level in {"debug", "info", "warning", "error"}, "log_level", "debug|info|warning|error")
        require(self.log_format in {"json", "console", "auto"}, "log_format", "json|console|auto")
        require(0 <= self.grpc_port < 65536, "grpc_port", "a port number")
        require(self.max_deliver >= 1, "max_deliver", "at least 1")
        require(self.ack_wait_s >= 3, "ack_wait_s", "at least 3 seconds")
        object.__setattr__(self, "data_dir", Path(self.data_dir).expanduser())


def require(ok: bool, field: str, expected: str) -> None:
    """Raise a ConfigError naming `field` (as flag and env var) unless `ok`."""
    if not ok:
        flag = "--" + field.replace("_", "-")
        raise ConfigError(f"invalid config {field} ({flag} / {ENV_PREFIX}{field.upper()}): expected {expected}")


def _parse(kind: Any, raw: str, name: str) -> Any:
    if kind is bool:
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off"}:
            return False
        require(False, name, "true or false")
    try:
        return kind(raw)
    except ValueError:
        require(False, name, f"a {kind.__name__}, got {raw!r}")


def add_flags(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one `--field-name` flag per config field, with its help and default."""
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else None
        parser.add_argument(
            "--" + f.name.replace("_", "-"),
            dest=f.name,
            default=None,
            metavar=f.name.upper(),
            help=f"{f.metadata.get('help', '')} (env {ENV_PREFIX}{f.name.upper()}; default {default})",
        )


def load_config(
    cls: type[C],
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    prog: str | None = None,
) -> C:
    """Build `cls` from flags, then env vars, then field defaults; raise ConfigError on a bad value."""
    environ = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(prog=prog, description=(cls.__doc__ or "").strip().splitlines()[0])
    add_flags(parser, cls)
    flags = vars(parser.parse_args([] if argv is None else list(argv)))
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        raw = flags.get(f.name)
        if raw is None:
            raw = environ.get(ENV_PREFIX + f.name.upper())
        if raw is not None:
            values[f.name] = _parse(hints[f.name], raw, f.name)
    return cls(**values)


def as_env(config: object) -> dict[str, str]:
    """The env vars that reproduce `config` in a child process (used by `selfaware run`)."""
    return {ENV_PREFIX + k.upper(): str(v) for k, v in dataclasses.asdict(config).items()}  # type: ignore[arg-type]
