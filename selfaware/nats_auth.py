"""NATS users and per-service permissions: who may publish and subscribe to which subject (issue 13, item 3).

Why allow lists, not deny lists: NATS checks every publish (a JetStream API request, a KV put and an Object Store
chunk are all publishes) against the user's `publish.allow`, so a subject missing from a list is refused with a
"Permissions Violation". The lists are derived from the code's own constants (`bus.SUBJECTS`, the stream and bucket
names, `plan`'s job keys), so a renamed subject changes the grant with it. `docs/nats-permissions.md` explains each
line.

Why job keys can be split per service: a key is `job.<experiment id>.<kind>[.<label>]`, the experiment id is one
token (`ids.ID` allows no dot), and the kind names the stage that owns it (`dataset`: generator, `train`: trainer,
`eval`: evaluator, `report`: aggregator). So `$KV.selfaware-state.job.*.train.>` is exactly the trainer's jobs. The
aggregator plans and closes every job, so it writes all of `job.>`.

Why no service may create or update a stream: `STREAM.UPDATE` rewrites a stream's limits (`max_age`,
`max_msgs_per_subject` on the state bucket), which destroys state without any key permission. One provisioning
user (`PROVISION_USER`, `selfaware.provision`) creates the streams and buckets; services only read their info.

Why each user has an inbox of its own: replies (KV values, fetched events, API answers) arrive on the
requester's inbox; with one shared `_INBOX.>` every service could read every other's. Services connect with
`inbox_prefix=_INBOX_<user>` (`bus.connect_options`) and may subscribe to that only.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from selfaware.bus import (
    DLQ_STREAM,
    EVENTS_PREFIX,
    EVENTS_STREAM,
    HANDBACK_PREFIX,
    SUBJECTS,
    dead_letter_subject,
    inbox_prefix,
)
from selfaware.plan import DATASET_JOB
from selfaware.provision import STREAMS
from selfaware.state import STATE_BUCKET
from selfaware.store import ARTIFACTS_BUCKET
from selfaware.v1 import events_pb2 as ev

API = "$JS.API"
KV = f"$KV.{STATE_BUCKET}"
KV_STREAM = f"KV_{STATE_BUCKET}"
OBJ_STREAM = f"OBJ_{ARTIFACTS_BUCKET}"
#: The user that creates and updates the streams and buckets (and nothing else).
PROVISION_USER = "provision"


@dataclass(frozen=True)
class Grant:
    """What one service does on the bus: the events it publishes, the durable consumers it reads (event type per
    durable) and the KV keys it writes (patterns under the state bucket)."""

    publishes: tuple[type, ...]
    consumes: Mapping[str, type]
    writes: tuple[str, ...]
    #: Extra publish subjects beyond the common ones (the aggregator's dead-letter replay and stream reads).
    extra_publish: tuple[str, ...] = ()


#: The services and their grants, as the handlers declare them (`bus.subscribe`, `bus.publish`, `StateStore`).
GRANTS: dict[str, Grant] = {
    "generator": Grant(
        publishes=(ev.DatasetReady,),
        consumes={"generator-experiment-submitted": ev.ExperimentSubmitted},
        writes=(f"job.*.{DATASET_JOB}",),
    ),
    "trainer": Grant(
        publishes=(ev.TrainingRequested, ev.AdapterReady),
        consumes={"trainer-dataset-ready": ev.DatasetReady, "trainer-training-requested": ev.TrainingRequested},
        writes=("job.*.train.>",),
    ),
    "evaluator": Grant(
        publishes=(ev.EvaluationCompleted,),
        consumes={"evaluator-evaluation-requested": ev.EvaluationRequested},
        writes=("job.*.eval.>",),
    ),
    "aggregator": Grant(
        publishes=(ev.ExperimentSubmitted, ev.ExperimentCancelled, ev.EvaluationRequested, ev.ReportReady),
        consumes={"aggregator-dataset-ready": ev.DatasetReady, "aggregator-adapter-ready": ev.AdapterReady,
                  "aggregator-evaluation-completed": ev.EvaluationCompleted,
                  "aggregator-dead-letters": ev.DeadLetter},
        writes=("exp.*", "job.>", "sweep.*"),
        # replaying a dead letter republishes it on its event subject and deletes it from the DLQ stream
        extra_publish=(EVENTS_PREFIX + ">", f"{API}.STREAM.MSG.DELETE.{DLQ_STREAM}",
                       f"{API}.STREAM.MSG.GET.{DLQ_STREAM}", f"{API}.DIRECT.GET.{DLQ_STREAM}.>",
                       f"{API}.STREAM.INFO.{DLQ_STREAM}"),
    ),
}

def _stream_of(event_type: type) -> str:
    return DLQ_STREAM if event_type is ev.DeadLetter else EVENTS_STREAM


def _consumer_subjects(durable: str, event_type: type) -> list[str]:
    """Bind, fetch, check, ack, hand back and dead-letter on one durable consumer."""
    stream = _stream_of(event_type)
    subjects = [
        f"{API}.CONSUMER.CREATE.{stream}.{durable}", f"{API}.CONSUMER.CREATE.{stream}.{durable}.>",
        f"{API}.CONSUMER.INFO.{stream}.{durable}", f"{API}.CONSUMER.MSG.NEXT.{stream}.{durable}",
        f"$JS.ACK.{stream}.{durable}.>",
        HANDBACK_PREFIX[stream] + durable,
    ]
    if event_type is not ev.DeadLetter:  # a dead letter names the subject it came from (bus._dead_letter)
        subjects.append(dead_letter_subject(SUBJECTS[event_type]))
    return subjects


def _common_publish(service: str) -> list[str]:
    """What every service does at start and while running: check the streams and open the buckets
    (`service.connect_runtime`: STREAM.INFO only, `selfaware.provision` creates them), publish its catalogue,
    read the state bucket and watch it (KV watches are ordered consumers), and read and write the
    content-addressed Object Store."""
    subjects = [f"{API}.INFO"] + [f"{API}.STREAM.INFO.{stream}" for stream in STREAMS]
    for stream in (KV_STREAM, OBJ_STREAM):
        subjects += [f"{API}.STREAM.MSG.GET.{stream}", f"{API}.DIRECT.GET.{stream}", f"{API}.DIRECT.GET.{stream}.>",
                     f"{API}.CONSUMER.CREATE.{stream}", f"{API}.CONSUMER.CREATE.{stream}.>",
                     f"{API}.CONSUMER.INFO.{stream}.>", f"{API}.CONSUMER.DELETE.{stream}.>"]
    subjects += [f"{KV}.catalogue.{service}", f"$O.{ARTIFACTS_BUCKET}.C.>", f"$O.{ARTIFACTS_BUCKET}.M.>"]
    return subjects


def permissions(service: str) -> dict[str, object]:
    """The nats-server `permissions` block of one service's user."""
    grant = GRANTS[service]
    publish = _common_publish(service)
    publish += [SUBJECTS[t] for t in grant.publishes]
    for durable, event_type in grant.consumes.items():
        publish += _consumer_subjects(durable, event_type)
    publish += [f"{KV}.{pattern}" for pattern in grant.writes]
    publish += list(grant.extra_publish)
    # allow_responses: ordered consumers (KV watches, Object Store reads) answer the server's flow-control
    # requests on their reply subjects (`$JS.FC.>`)
    return {"publish": {"allow": sorted(set(publish))}, "subscribe": {"allow": [_inbox(service)]},
            "allow_responses": True}


def provision_permissions() -> dict[str, object]:
    """The provisioning user's block: create, update and read the streams (the KV and Object Store buckets are
    streams too), nothing else."""
    publish = [f"{API}.INFO"] + [f"{API}.STREAM.{op}.{stream}" for stream in STREAMS
                                 for op in ("CREATE", "UPDATE", "INFO")]
    return {"publish": {"allow": publish}, "subscribe": {"allow": [_inbox(PROVISION_USER)]}}


def user_permissions(user: str) -> dict[str, object]:
    """The `permissions` block of a service's user or of the provisioning user."""
    return provision_permissions() if user == PROVISION_USER else permissions(user)


def _inbox(user: str) -> str:
    return inbox_prefix(user) + ".>"


USERS = (*GRANTS, PROVISION_USER)


def new_passwords(users: tuple[str, ...] = USERS) -> dict[str, str]:
    """A fresh random password per user (for a local stack; Kubernetes reads them from a secret)."""
    return {user: secrets.token_urlsafe(24) for user in users}


def server_config(passwords: Mapping[str, str], *, admin_password: str | None = None, port: int = 4222,
                  store_dir: str = "", host: str = "127.0.0.1") -> str:
    """A nats-server config with JetStream and one user per entry of `passwords` (a service or the provisioning
    user), and an unrestricted `admin` user when `admin_password` is given (the local operator: the embedded
    stack's CLI and tests). nats-server's config format accepts JSON, so the values are written with
    `json.dumps`, which quotes subjects such as `$JS.API.>` correctly. No user means no anonymous access."""
    config: dict[str, object] = {"host": host, "port": port, "authorization": _authorization(passwords, admin_password)}
    config["jetstream"] = {"store_dir": store_dir} if store_dir else {}
    return json.dumps(config, indent=2) + "\n"


def _authorization(passwords: Mapping[str, str], admin_password: str | None = None) -> dict[str, object]:
    users: list[dict[str, object]] = [{"user": user, "password": password, "permissions": user_permissions(user)}
                                      for user, password in passwords.items()]
    if admin_password is not None:
        users.append({"user": "admin", "password": admin_password})
    return {"users": users}


def password_env(user: str) -> str:
    """The env var the NATS pods read `user`'s password from (Kubernetes: a `secretKeyRef`)."""
    return f"{user.upper()}_NATS_PASSWORD"


#: The first lines of the generated Kubernetes file.
K8S_HEADER = """# Generated by `python -m selfaware.nats_auth > deploy/k8s/base/nats-auth.conf` from selfaware/nats_auth.py
# (docs/nats-permissions.md explains every line; tests/unit/test_k8s_manifests.py fails when it is stale).
# One user per service and the provisioning user; each password is an env var of the NATS pod, filled from the
# Secret `nats-users` (nats.yaml). No anonymous access.
"""


def k8s_authorization() -> str:
    """The `authorization` block for Kubernetes: the passwords are env-var references (`$GENERATOR_NATS_PASSWORD`,
    resolved by nats-server when it reads the file), so the file holds no secret."""
    text = json.dumps({"authorization": _authorization({u: "$" + password_env(u) for u in USERS})}, indent=2)
    for user in USERS:  # a quoted "$VAR" would be a literal string
        text = text.replace(json.dumps("$" + password_env(user)), "$" + password_env(user))
    return K8S_HEADER + text + "\n"


if __name__ == "__main__":
    print(k8s_authorization(), end="")
