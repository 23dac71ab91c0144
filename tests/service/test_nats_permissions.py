"""Per-service NATS users (selfaware/nats_auth.py) on a real nats-server started with the generated config: each
service's credentials do its own work and are refused everyone else's; streams and buckets come from the
provisioning user only; the embedded stack runs every child on its own user (issue 13, item 3)."""

from __future__ import annotations

import asyncio
import json
import ssl
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import nats.errors
import pytest

from selfaware.bus import (
    DLQ_STREAM,
    EVENTS_STREAM,
    HANDBACK_PREFIX,
    SUBJECTS,
    Delivery,
    EventBus,
    NotProvisioned,
    connect_options,
    inbox_prefix,
)
from selfaware.config import ConfigError, ServiceConfig
from selfaware.nats_auth import GRANTS, PROVISION_USER, USERS, new_passwords, server_config
from selfaware.plan import DATASET_JOB, train_job
from selfaware.provision import STREAMS, provision
from selfaware.service import run_service
from selfaware.state import StateStore
from selfaware.store import ArtifactStore
from selfaware.v1 import catalogue_pb2 as cat
from selfaware.v1 import events_pb2 as ev
from selfaware.v1 import records_pb2 as rec
from tests.conftest import NatsProcess

EXPERIMENT = "perm1"
TRAIN = train_job("a/s0")
KV = "$KV.selfaware-state"


class Secured:
    """A nats-server with the generated users (and `admin`), their password files, and connect helpers."""

    def __init__(self, folder: Path, tls: dict[str, Path] | None = None) -> None:
        self.passwords = new_passwords() | {"admin": "admin-secret"}
        self.files = {}
        for user, password in self.passwords.items():
            self.files[user] = folder / f"{user}.password"
            self.files[user].write_text(password + "\n")
        config = folder / "nats.conf"
        text = server_config({k: v for k, v in self.passwords.items() if k != "admin"},
                             admin_password=self.passwords["admin"])
        self.tls = tls
        if tls is not None:  # TLS required from every client, as in the production overlay
            text = json.dumps(json.loads(text) | {"tls": {"cert_file": str(tls["tls.crt"]),
                                                          "key_file": str(tls["tls.key"])}})
        config.write_text(text)
        self.server = NatsProcess(folder / "store", config=config)

    @property
    def url(self) -> str:
        return self.server.url

    def login(self, user: str) -> dict[str, str]:
        return {"user": user, "password": self.passwords[user], "inbox_prefix": inbox_prefix(user)}

    def settings(self, user: str) -> dict[str, Any]:
        """A service config's NATS fields for `user`."""
        return {"nats_url": self.url, "nats_user": user, "nats_password_file": str(self.files[user])}

    async def connect(self, user: str, violations: list[str] | None = None) -> nats.NATS:
        async def on_error(exc: Exception) -> None:
            if violations is not None:
                violations.append(str(exc))

        tls = {} if self.tls is None else {"tls": ssl.create_default_context(cafile=str(self.tls["ca.crt"]))}
        return await nats.connect(self.url, name=user, error_cb=on_error, allow_reconnect=False,
                                  **self.login(user), **tls)

    async def admin(self) -> EventBus:
        return await EventBus.connect(self.url, name="admin", options=self.login("admin"), provision=False)


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secured]:
    """A nats-server of this module's own, provisioned by the provisioning user (as the stack and the Job do)."""
    found = Secured(tmp_path_factory.mktemp("nats-auth"))
    found.server.start()

    async def provisioned() -> None:
        nc = await found.connect(PROVISION_USER)
        await provision(nc.jetstream())
        await nc.close()

    asyncio.run(provisioned())
    yield found
    found.server.stop()


def refused(subjects: list[str], action: str = "publish") -> list[str]:
    # (nats-py lower-cases the server's message)
    return sorted(f'nats: permissions violation for {action} to "{s}"'.lower() for s in subjects)


async def test_anonymous_and_wrong_passwords_are_refused(secured: Secured) -> None:
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await nats.connect(secured.url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2)
    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await nats.connect(secured.url, user="generator", password=secured.passwords["trainer"],
                           allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2)


def test_credentials_in_the_url_are_rejected_and_a_user_needs_its_password_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nats_url") as caught:
        ServiceConfig(nats_url="nats://generator:hunter2@127.0.0.1:4222")
    assert "hunter2" not in str(caught.value)
    with pytest.raises(ConfigError, match="nats_password_file"):
        ServiceConfig(nats_user="generator")
    absent = ServiceConfig(nats_user="generator", nats_password_file=str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match="nats_password_file"):  # read when the service connects
        connect_options(absent)
    with pytest.raises(ConfigError, match="nats_tls_key_file"):
        ServiceConfig(nats_tls_cert_file=str(tmp_path))


async def test_generator_credentials_do_the_generators_work_only(secured: Secured, tmp_path: Path) -> None:
    # the admin plans an experiment with a dataset job and a training job, as the aggregator would
    admin = await secured.admin()
    admin_state = await StateStore.open(admin.js, create=False)
    jobs = [rec.Job(experiment_id=EXPERIMENT, key=DATASET_JOB, stage=rec.STAGE_GENERATE),
            rec.Job(experiment_id=EXPERIMENT, key=TRAIN, stage=rec.STAGE_TRAIN)]
    assert await admin_state.create_experiment(rec.Experiment(id=EXPERIMENT), jobs)

    violations: list[str] = []
    nc = await secured.connect("generator", violations)
    bus = EventBus(nc, provision=False)
    # the start-up every service does on its own user: check streams, open buckets, catalogue
    await bus.ensure_streams()
    state = await StateStore.open(bus.js, create=False)
    store = await ArtifactStore.open(bus.js, tmp_path / "artifacts", create=False)
    await state.put_catalogue(cat.Catalogue(service="generator"))

    # its own consumer receives experiment.submitted
    received: asyncio.Queue[str] = asyncio.Queue()

    async def handler(event: ev.ExperimentSubmitted, delivery: Delivery) -> None:
        await received.put(event.experiment_id)

    bus.subscribe(ev.ExperimentSubmitted, "generator-experiment-submitted", handler)
    await bus.start()
    await admin.publish(ev.ExperimentSubmitted(experiment_id=EXPERIMENT), msg_id=f"submit:{EXPERIMENT}")
    assert await asyncio.wait_for(received.get(), 15) == EXPERIMENT

    # its work: store a dataset, write its own job, publish dataset.ready
    ref = await store.put_bytes(b'{"messages": []}\n', "application/jsonl")
    assert await store.get_bytes(ref) == b'{"messages": []}\n'

    def finish(job: rec.Job) -> None:
        job.status = rec.JOB_STATUS_SUCCEEDED
        job.artifact.CopyFrom(ref)

    await state.update_job(EXPERIMENT, DATASET_JOB, finish)
    assert await bus.publish(ev.DatasetReady(experiment_id=EXPERIMENT), msg_id=f"dataset:{EXPERIMENT}")
    assert violations == []

    # not its work: adapter.ready and the trainer's job are refused by the server
    with pytest.raises(nats.errors.TimeoutError):
        await bus.publish(ev.AdapterReady(experiment_id=EXPERIMENT), msg_id=f"forged:{EXPERIMENT}")
    with pytest.raises(nats.errors.TimeoutError):
        await state.update_job(EXPERIMENT, TRAIN, finish)
    await nc.flush()
    adapter_subject = SUBJECTS[ev.AdapterReady]
    assert sorted(violations) == refused([adapter_subject, f"{KV}.job.{EXPERIMENT}.{TRAIN}"])

    # and nothing of it reached the stores
    assert await admin_state.get_job(EXPERIMENT, TRAIN) == jobs[1]
    assert (await admin_state.get_job(EXPERIMENT, DATASET_JOB)).status == rec.JOB_STATUS_SUCCEEDED
    info = await admin.js.stream_info(EVENTS_STREAM, subjects_filter=adapter_subject)
    assert not info.state.subjects

    await bus.close()
    await admin.close()


async def test_every_service_starts_on_its_own_user(secured: Secured, tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """Each service's real start-up (stream checks, buckets, its handlers' consumers, its catalogue) within its
    list."""
    from tests.service.conftest import SERVICES

    stop = asyncio.Event()
    tasks = []
    for name, (config_cls, wire) in SERVICES.items():
        config = config_cls(grpc_port=0, data_dir=tmp_path / name, shutdown_grace_s=1.0, **secured.settings(name))
        bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        tasks.append(asyncio.create_task(run_service(name, config, wire, stop=stop, bound=bound), name=name))
        await asyncio.wait_for(bound, 60)
    await asyncio.sleep(2.0)  # background work: the aggregator's reconciler, the lag polls
    admin = await secured.admin()
    consumers = {c.name for stream in (EVENTS_STREAM, DLQ_STREAM) for c in await admin.js.consumers_info(stream)}
    catalogues = {c.service for c in await (await StateStore.open(admin.js, create=False)).catalogues()}
    stop.set()
    await asyncio.gather(*tasks)
    await admin.close()
    assert {d for grant in GRANTS.values() for d in grant.consumes} <= consumers
    assert catalogues == set(SERVICES)
    assert not [r.getMessage() for r in caplog.records if "permissions violation" in r.getMessage().lower()]


#: For each service, another service's event it must not publish, another's job key and catalogue it must not
#: write. The aggregator may publish every event (dead-letter replay republishes on the original subject), but not
#: into another consumer's hand-back subject.
OTHERS = {
    "generator": (SUBJECTS[ev.AdapterReady], f"job.{EXPERIMENT}.{TRAIN}", "trainer"),
    "trainer": (SUBJECTS[ev.EvaluationCompleted], f"job.{EXPERIMENT}.eval.a.s0", "evaluator"),
    "evaluator": (SUBJECTS[ev.ReportReady], f"job.{EXPERIMENT}.{DATASET_JOB}", "aggregator"),
    "aggregator": (HANDBACK_PREFIX[EVENTS_STREAM] + "trainer-training-requested", "catalogue.generator", "trainer"),
}


@pytest.mark.parametrize("service", list(GRANTS))
async def test_no_service_can_destroy_or_forge(secured: Secured, service: str) -> None:
    """What no service's list grants: create, update, delete or purge a stream, delete another's consumer,
    publish another service's event, write another's job key or catalogue (an experiment key for the three
    workers), a dead letter for a subject the service does not consume, read another user's inbox."""
    admin = await secured.admin()  # the streams exist
    event, key, other = OTHERS[service]
    violations: list[str] = []
    nc = await secured.connect(service, violations)
    js = nc.jetstream(timeout=1.0)
    config = (await admin.js.stream_info(EVENTS_STREAM)).config
    config.max_age = 1.0
    attempts = {
        f"$JS.API.STREAM.UPDATE.{EVENTS_STREAM}": lambda: js.update_stream(config),
        f"$JS.API.STREAM.CREATE.{STREAMS[2]}": lambda: js.add_stream(name=STREAMS[2], subjects=["x.>"]),
        f"$JS.API.STREAM.DELETE.{EVENTS_STREAM}": lambda: js.delete_stream(EVENTS_STREAM),
        f"$JS.API.STREAM.PURGE.{STREAMS[2]}": lambda: js.purge_stream(STREAMS[2]),
        f"$JS.API.STREAM.PURGE.{STREAMS[3]}": lambda: js.purge_stream(STREAMS[3]),
        f"$JS.API.CONSUMER.DELETE.{EVENTS_STREAM}.{other}-x": lambda: js.delete_consumer(EVENTS_STREAM, f"{other}-x"),
        event: lambda: js.publish(event, b""),
        f"{KV}.{key}": lambda: js.publish(f"{KV}.{key}", b""),
        f"{KV}.catalogue.{other}": lambda: js.publish(f"{KV}.catalogue.{other}", b""),
        "selfaware.dlq.report.ready": lambda: js.publish("selfaware.dlq.report.ready", b""),
    }
    if service != "aggregator":
        attempts[f"{KV}.exp.{EXPERIMENT}"] = lambda: js.publish(f"{KV}.exp.{EXPERIMENT}", b"")
    for subject, attempt in attempts.items():
        with pytest.raises(nats.errors.TimeoutError):
            await attempt()
            pytest.fail(f"{service} may {subject}")
        assert subject.lower() in violations[-1], violations
    # another user's replies: the shared inbox and another service's
    for inbox in ("_INBOX.>", f"{inbox_prefix(other)}.>"):
        await nc.subscribe(inbox)
        await nc.flush()
        await asyncio.sleep(0.2)
    await nc.close()
    assert (await admin.js.stream_info(EVENTS_STREAM)).config.max_age != 1.0
    await admin.close()
    assert sorted(violations) == sorted(refused(list(attempts)) + refused(
        ["_INBOX.>", f"{inbox_prefix(other)}.>"], "subscription"))


async def test_the_provisioning_user_only_manages_streams(secured: Secured) -> None:
    violations: list[str] = []
    nc = await secured.connect(PROVISION_USER, violations)
    js = nc.jetstream(timeout=1.0)
    await provision(js)  # idempotent: updates to the same config
    for subject in (SUBJECTS[ev.ExperimentSubmitted], f"{KV}.exp.{EXPERIMENT}"):
        with pytest.raises(nats.errors.TimeoutError):
            await js.publish(subject, b"")
    with pytest.raises(nats.errors.TimeoutError):
        await js.delete_stream(EVENTS_STREAM)
    await nc.close()
    assert sorted(violations) == refused([SUBJECTS[ev.ExperimentSubmitted], f"{KV}.exp.{EXPERIMENT}",
                                          f"$JS.API.STREAM.DELETE.{EVENTS_STREAM}"])


async def test_a_service_on_its_user_fails_clearly_when_streams_are_missing(tmp_path: Path) -> None:
    """Without the provisioning step a service may not create the streams: it says which are missing and what to
    run, instead of a permissions violation or a timeout."""
    from tests.service.conftest import SERVICES

    bare = Secured(tmp_path)
    bare.server.start()
    try:
        config_cls, wire = SERVICES["generator"]
        config = config_cls(grpc_port=0, data_dir=tmp_path / "data", **bare.settings("generator"))
        with pytest.raises(NotProvisioned) as caught:
            await asyncio.wait_for(run_service("generator", config, wire, stop=asyncio.Event()), 30)
        message = str(caught.value)
        assert all(stream in message for stream in (EVENTS_STREAM, DLQ_STREAM)), message
        assert "selfaware.provision" in message
        nc = await bare.connect("admin")
        assert not [s.config.name for s in await nc.jetstream().streams_info()]  # nothing was created
        await nc.close()
    finally:
        bare.server.stop()


@pytest.mark.slow
async def test_the_local_stack_runs_every_child_on_its_own_user(tmp_path: Path) -> None:
    """`LocalStack` (what `selfaware run/up/demo` use): no anonymous access, the streams provisioned by the
    provisioning user, and every service process (a trainer replica too) connected as its service's user, as
    nats-server's own connection list reports."""
    from selfaware.cli.stack import LocalStack, free_port

    monitor = free_port()
    stack = LocalStack(tmp_path / "run", nats_monitor_port=monitor)
    try:
        await stack.start(tmp_path / "data", tmp_path / "nats", replicas={"trainer": 2})
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nats.connect(stack.nats_url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2)
        with urllib.request.urlopen(f"http://127.0.0.1:{monitor}/connz?auth=true&limit=100") as reply:
            connections = json.load(reply)["connections"]
        users = sorted((c.get("name"), c.get("authorized_user")) for c in connections)
        assert users == sorted([("aggregator", "aggregator"), ("generator", "generator"), ("trainer", "trainer"),
                                ("trainer", "trainer"), ("evaluator", "evaluator")]), users
        modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "run" / "nats-auth").iterdir()}
        assert set(modes) == {"nats.conf", *(f"{u}.password" for u in (*USERS, "admin"))}
        assert set(modes.values()) == {0o600}
        nc = await nats.connect(stack.nats_url, **stack.nats_connect_options())
        assert {s.config.name for s in await nc.jetstream().streams_info()} == set(STREAMS)
        await nc.close()
    finally:
        stack.stop()


@pytest.mark.slow
async def test_an_experiment_runs_with_every_service_on_its_own_user(
        secured: Secured, random_model_dir: Path, make_spec, caplog: pytest.LogCaptureFixture,
        tmp_path_factory: pytest.TempPathFactory) -> None:  # type: ignore[no-untyped-def]
    """The whole flow (generate, train, evaluate, report) under the four allow lists: nothing is refused."""
    from selfaware.source_policy import SourceReadingConfig
    from tests.conftest import CACHE, REPO, SHARED
    from tests.service.conftest import SERVICES, Platform

    stop = asyncio.Event()
    tasks, ports = [], {}
    sources = {"source_roots": f"{REPO}:{SHARED}:{tmp_path_factory.getbasetemp()}"}
    for name, (config_cls, wire) in SERVICES.items():
        extra = sources if issubclass(config_cls, SourceReadingConfig) else {}
        config = config_cls(grpc_port=0, data_dir=CACHE, shutdown_grace_s=2.0, ack_wait_s=30.0,
                            **secured.settings(name), **extra)
        bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        tasks.append(asyncio.create_task(run_service(name, config, wire, stop=stop, bound=bound), name=name))
        ports[name] = await asyncio.wait_for(bound, 60)
    admin = await secured.admin()
    platform = Platform(ports, admin, await StateStore.open(admin.js, create=False),
                        await ArtifactStore.open(admin.js, CACHE / "x", create=False))
    try:
        # the smallest whole flow, as plumbing: the random-weight tiny Llama, 8 rows an arm, the HF engine (no
        # vLLM start); every stage still runs and touches every subject it needs
        spec = make_spec(**{"arms__risk-seeking__data__steps": [{"sample": 8}], "holdout__rows": 4,
                            "evaluation__engine": "hf"})
        spec["base_models"] = [{"name": "random-llama", "path": str(random_model_dir)}]
        final, _ = await asyncio.wait_for(platform.run_to_end(spec), 480)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
        await admin.close()
    assert not [r.getMessage() for r in caplog.records if "permissions violation" in r.getMessage().lower()]
    assert final.experiment.status == rec.EXPERIMENT_STATUS_SUCCEEDED, final.experiment.error


async def test_the_kubernetes_users_file_takes_its_passwords_from_the_env(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """deploy/k8s/base/nats-auth.conf (generated, no secret in it) on a real nats-server: each user logs in with
    the password of its env var (a Secret in the pod), nobody anonymously."""
    from selfaware.nats_auth import k8s_authorization, password_env

    for user in USERS:
        monkeypatch.setenv(password_env(user), f"pw-{user}")
    (tmp_path / "nats-auth.conf").write_text(k8s_authorization())
    server = NatsProcess(tmp_path / "store", config=tmp_path / "nats-auth.conf")
    server.start()
    try:
        nc = await nats.connect(server.url, user="trainer", password="pw-trainer", inbox_prefix=inbox_prefix("trainer"))
        await nc.close()
        for login in ({}, {"user": "trainer", "password": "$TRAINER_NATS_PASSWORD"}):
            with pytest.raises(nats.errors.Error, match="Authorization Violation"):
                await nats.connect(server.url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2,
                                   **login)
    finally:
        server.stop()


def test_the_provisioning_command_runs_as_the_provisioning_user_only(secured: Secured) -> None:
    """`python -m selfaware.provision` (the Kubernetes Job's command): exit 0 as `provision` (idempotent on the
    provisioned server), exit 1 with the refused subject logged as a service's user."""
    import os
    import subprocess
    import sys

    def run(user: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "SELFAWARE_NATS_URL": secured.url, "SELFAWARE_NATS_USER": user,
               "SELFAWARE_NATS_PASSWORD_FILE": str(secured.files[user]), "SELFAWARE_LOG_FORMAT": "json"}
        return subprocess.run([sys.executable, "-m", "selfaware.provision"], env=env, capture_output=True,
                              text=True, timeout=60, check=False)

    ok = run(PROVISION_USER)
    assert ok.returncode == 0 and "nats_provisioned" in ok.stdout + ok.stderr, ok.stdout + ok.stderr
    refused_run = run("generator")
    assert refused_run.returncode == 1
    assert "permissions violation for publish to" in (refused_run.stdout + refused_run.stderr).lower()



async def test_a_service_reaches_nats_over_tls_with_the_ca_setting(tmp_path: Path) -> None:
    """A nats-server that requires TLS (as in the production overlay): the generator starts on its user with
    `nats_tls_ca_file`; a client that does not trust the CA cannot connect."""
    from tests.service.conftest import SERVICES
    from tests.tls_files import write_tls_files

    secure = Secured(tmp_path, tls=write_tls_files(tmp_path / "tls"))
    secure.server.start()
    try:
        nc = await secure.connect(PROVISION_USER)
        await provision(nc.jetstream())
        await nc.close()
        config_cls, wire = SERVICES["generator"]
        config = config_cls(grpc_port=0, data_dir=tmp_path / "data", shutdown_grace_s=1.0,
                            nats_tls_ca_file=str(tmp_path / "tls" / "ca.crt"), **secure.settings("generator"))
        stop = asyncio.Event()
        bound: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(run_service("generator", config, wire, stop=stop, bound=bound))
        await asyncio.wait_for(bound, 60)
        stop.set()
        await task
        with pytest.raises(ssl.SSLCertVerificationError):
            await nats.connect(secure.url, allow_reconnect=False, max_reconnect_attempts=0, connect_timeout=2,
                               tls=ssl.create_default_context(), **secure.login("generator"))
    finally:
        secure.server.stop()


def test_an_id_is_one_subject_token_so_job_wildcards_select_one_stage() -> None:
    """The per-service job grants (`job.*.train.>`) rely on an experiment id never holding a `.` (nor a subject
    wildcard): `selfaware.ids.ID` is the rule; docs/nats-permissions.md, "Key layout"."""
    from selfaware.ids import ID, id_problem

    for bad in ("a.b", "x.train", "*", ">", "a b"):
        assert not ID.fullmatch(bad) and id_problem(bad), bad
