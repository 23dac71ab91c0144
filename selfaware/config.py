"""The one config loader: typed, frozen dataclasses filled from flags, then `SELFAWARE_*` env vars, then defaults.

Every field is declared with `setting(default, help)`; the CLI flags (`--field-name`) and their help text are
generated from the same fields, so docs, flags and env vars cannot drift apart. No other module reads
`os.environ`: a process calls `load_config` once and passes the object down.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import os
import re
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

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
    nats_replicas: int = setting(1, "copies JetStream keeps of each stream and bucket the services create: 1 on a "
                                    "single server, 3 on a 3-node cluster (at most the cluster's size)")
    grpc_host: str = setting("127.0.0.1", "address the gRPC server binds to")
    grpc_port: int = setting(50051, "gRPC port")
    log_level: str = setting("info", "minimum log level: debug, info, warning or error")
    log_format: str = setting("auto", "log renderer: json, console, or auto (console on a terminal)")
    data_dir: Path = setting(Path("~/.cache/selfaware"), "local cache and scratch space (artifacts/, models/, scratch/)")
    shutdown_grace_s: float = setting(20.0, "seconds in-flight work may take to finish after SIGTERM")
    max_deliver: int = setting(4, "deliveries of one event before it is dead-lettered")
    ack_wait_s: float = setting(15.0, "seconds JetStream waits for an ack before it redelivers to another worker; "
                                      "handlers heartbeat at a third of it, and job leases last as long")
    consumer_limits: str = setting("", "per-consumer limits, e.g. 'trainer-training-requested=concurrency:2,"
                                       "max_ack_pending:64' (';' between consumers): concurrency is handlers per "
                                       "replica, max_ack_pending (default 1024) is unacked messages cluster-wide")
    metrics_port: int = setting(0, "serve Prometheus metrics on this port (0: off), on grpc_host like gRPC")
    dead_letter_max_age_s: float = setting(7 * 24 * 3600.0, "seconds the dead-letter stream keeps a letter (with "
                                                            "its event's payload); every service declares the "
                                                            "stream, so give them all the same value")
    # gRPC security (issue 13): see selfaware/tokens.py and docs/security.md.
    auth_mode: str = setting("none", "who may call the gRPC APIs: none (only on a loopback grpc_host), tokens "
                                     "(auth_tokens_file) or jwt (auth_jwt_*); tokens and jwt need TLS")
    auth_tokens_file: str = setting("", "YAML file of static tokens' SHA-256 hashes with subject and roles "
                                        "(auth_mode tokens)")
    auth_jwt_issuer: str = setting("", "the issuer (iss) a JWT must name (auth_mode jwt)")
    auth_jwt_audience: str = setting("", "the audience (aud) a JWT must name (auth_mode jwt)")
    auth_jwks_url: str = setting("", "URL of the issuer's JWKS, the keys JWTs are checked against (auth_mode jwt)")
    auth_roles_claim: str = setting("roles", "the JWT claim holding the caller's roles (a dotted path reaches "
                                             "into nested claims, e.g. realm_access.roles)")
    tls_cert_file: str = setting("", "PEM certificate (chain) the gRPC server presents; empty: plaintext")
    tls_key_file: str = setting("", "PEM private key of tls_cert_file")
    tls_client_ca_file: str = setting("", "PEM CA bundle: when set, clients must present a certificate it signed "
                                          "(mTLS)")
    grpc_reflection: bool = setting(True, "serve gRPC server reflection (no token needed)")
    health_port: int = setting(0, "also serve grpc.health.v1 alone, in plaintext, on this port (0: off), for "
                                  "kubelet gRPC probes, which can do neither TLS nor tokens")
    # NATS credentials and TLS (issue 13 item 3, docs/nats-permissions.md): never in nats_url, which is logged.
    nats_user: str = setting("", "this service's NATS user (empty: anonymous, a local NATS without accounts); with "
                                 "a user the service does not create streams and buckets, it checks them "
                                 "(`python -m selfaware.provision` creates them)")
    nats_password_file: str = setting("", "file holding nats_user's password (a mounted Kubernetes Secret)")
    nats_tls_ca_file: str = setting("", "CA certificates that sign the NATS servers' certificates: TLS to NATS")
    nats_tls_cert_file: str = setting("", "client certificate for mutual TLS to NATS (with nats_tls_key_file)")
    nats_tls_key_file: str = setting("", "private key of nats_tls_cert_file")

    def __post_init__(self) -> None:
        require(self.log_level in {"debug", "info", "warning", "error"}, "log_level", "debug|info|warning|error")
        require(self.log_format in {"json", "console", "auto"}, "log_format", "json|console|auto")
        require(0 <= self.grpc_port < 65536, "grpc_port", "a port number")
        require(1 <= self.nats_replicas <= 5, "nats_replicas", "1 to 5 (JetStream's limit)")
        require(0 <= self.metrics_port < 65536, "metrics_port", "a port number, or 0 for none")
        require(self.max_deliver >= 1, "max_deliver", "at least 1")
        require(self.ack_wait_s >= 3, "ack_wait_s", "at least 3 seconds")
        require(self.dead_letter_max_age_s >= 1, "dead_letter_max_age_s", "at least 1 second")
        parse_consumer_limits(self.consumer_limits)
        self._check_security()
        check_nats_access(self)
        object.__setattr__(self, "data_dir", Path(self.data_dir).expanduser())

    def _check_security(self) -> None:
        """The settings' shapes only: the files are read when the server starts (`selfaware.grpc_server`), so a
        config can be checked away from the machine that has them (tests/unit/test_k8s_manifests.py)."""
        require(self.auth_mode in {"none", "tokens", "jwt"}, "auth_mode", "none|tokens|jwt")
        require(self.auth_mode != "none" or is_loopback(self.grpc_host), "auth_mode",
                f"tokens or jwt: grpc_host {self.grpc_host} is not a loopback address, and nothing unauthenticated "
                "may listen on a network")
        require(bool(self.tls_cert_file) == bool(self.tls_key_file), "tls_key_file",
                "set together with tls_cert_file")
        require(self.auth_mode == "none" or bool(self.tls_cert_file), "tls_cert_file",
                f"a certificate: auth_mode {self.auth_mode} sends bearer tokens, never in plaintext")
        require(not self.tls_client_ca_file or bool(self.tls_cert_file), "tls_client_ca_file",
                "empty unless tls_cert_file is set (mTLS needs TLS)")
        if self.auth_mode == "tokens":
            require(bool(self.auth_tokens_file), "auth_tokens_file", "a tokens file (auth_mode tokens)")
        if self.auth_mode == "jwt":
            for name in ("auth_jwt_issuer", "auth_jwt_audience"):
                require(bool(getattr(self, name)), name, "a value (auth_mode jwt)")
            require(self.auth_jwks_url.startswith(("https://", "http://")), "auth_jwks_url",
                    "an http(s) URL of the issuer's JWKS (auth_mode jwt)")
        require(bool(self.auth_roles_claim), "auth_roles_claim", "a claim name")
        require(0 <= self.health_port < 65536 and (self.health_port == 0 or self.health_port != self.grpc_port),
                "health_port", "a port number other than grpc_port, or 0 for none")

    def limits(self) -> dict[str, ConsumerLimits]:
        """`consumer_limits` by durable consumer name (checked in `__post_init__`)."""
        return parse_consumer_limits(self.consumer_limits)


def check_nats_access(config: ServiceConfig) -> None:
    """NATS credentials come from nats_user and a password file, never from the URL (service.py logs the URL);
    a user needs its password file and a client certificate its key. Checked for shape only: the files are read
    when the service connects (`bus.connect_options`), so a config can be checked where they are not mounted."""
    for url in config.nats_url.split(","):
        parts = urlsplit(url.strip())
        require(parts.username is None and parts.password is None, "nats_url",
                "a URL without credentials (set nats_user and nats_password_file)")
    require(bool(config.nats_user) == bool(config.nats_password_file), "nats_password_file",
            "a password file together with nats_user (both or neither)")
    require(re.fullmatch(r"[A-Za-z0-9_-]*", config.nats_user) is not None, "nats_user",
            "letters, digits, '_' or '-' (it names the user's inbox, _INBOX_<user>)")
    require(bool(config.nats_tls_cert_file) == bool(config.nats_tls_key_file), "nats_tls_key_file",
            "a key together with nats_tls_cert_file (both or neither)")


@dataclasses.dataclass(frozen=True)
class ConsumerLimits:
    """Limits for one durable consumer; None keeps the default (the service's own, or the bus's)."""

    concurrency: int | None = None
    max_ack_pending: int | None = None


def parse_consumer_limits(raw: str) -> dict[str, ConsumerLimits]:
    """Parse `name=concurrency:N,max_ack_pending:M;name2=...`; a ConfigError names the setting and the bad part."""
    limits: dict[str, ConsumerLimits] = {}
    for part in filter(None, (p.strip() for p in raw.split(";"))):
        name, _, body = (s.strip() for s in part.partition("="))
        _require_limit(re.fullmatch(r"[A-Za-z0-9_-]+", name) is not None and bool(body), part,
                       "needs a consumer name, '=' and at least one limit")
        _require_limit(name not in limits, part, f"consumer {name!r} given twice")
        values: dict[str, int] = {}
        for item in (i.strip() for i in body.split(",")):
            key, _, number = (s.strip() for s in item.partition(":"))
            _require_limit(key in {"concurrency", "max_ack_pending"}, part, f"unknown limit {key!r}")
            _require_limit(key not in values, part, f"{key} given twice")
            _require_limit(re.fullmatch(r"[0-9]{1,7}", number) is not None and 1 <= int(number) <= 1_000_000,
                           part, f"{key} must be a whole number from 1 to 1000000")
            values[key] = int(number)
        limits[name] = ConsumerLimits(**values)
    return limits


def _require_limit(ok: bool, part: str, why: str) -> None:
    require(ok, "consumer_limits", f"'<consumer>=concurrency:N,max_ack_pending:M;...'; in {part!r}: {why}")


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or `localhost`) can only be reached from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require(ok: bool, field: str, expected: str) -> None:
    """Raise a ConfigError naming `field` (as flag and env var) unless `ok`."""
    if not ok:
        raise config_error(field, expected)


def config_error(field: str, expected: str) -> ConfigError:
    """The ConfigError for a bad `field`, naming its flag and env var."""
    flag = "--" + field.replace("_", "-")
    return ConfigError(f"invalid config {field} ({flag} / {ENV_PREFIX}{field.upper()}): expected {expected}")


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
