"""Fuzzing the gRPC contract (issue 13, item 6): requests for every RPC of every service, generated from the proto
descriptors, sent to the real servers, and each answer sorted into an outcome.

Generation walks each method's input descriptor and draws each field by its type from a seeded `random.Random`,
so a run is reproduced by its seed; boundary values (empty, huge, NUL, NaN, out-of-range timestamps, unknown enum
numbers) come up often because they are what breaks handlers. With `seeds` (valid messages by full name, e.g. a
real ExperimentSpec) half of such messages are a seed with a few fields replaced, which reaches the checks behind
the first one. hypothesis is not used yet: it is not installed in the project's environment (see the report of
issue 13's fuzz branch).
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import descriptor as _d
from google.protobuf import json_format, message_factory
from google.protobuf.message import Message

from selfaware.client import PLAINTEXT, Credentials
from selfaware.grpc_server import field_violations
from selfaware.v1 import (
    aggregator_pb2,
    aggregator_pb2_grpc,
    evaluator_pb2,
    evaluator_pb2_grpc,
    generator_pb2,
    generator_pb2_grpc,
    trainer_pb2,
    trainer_pb2_grpc,
)

PROTO_DIR = Path(__file__).resolve().parents[1] / "proto" / "selfaware" / "v1"
#: (service key as in the platform's ports, pb2 module, grpc module).
SERVICES = {
    "aggregator": (aggregator_pb2, aggregator_pb2_grpc),
    "generator": (generator_pb2, generator_pb2_grpc),
    "trainer": (trainer_pb2, trainer_pb2_grpc),
    "evaluator": (evaluator_pb2, evaluator_pb2_grpc),
}
#: Answers allowed for any RPC; FAILED_PRECONDITION only where the proto's comment on the RPC names it.
ALLOWED = {"OK", "INVALID_ARGUMENT", "NOT_FOUND", "PERMISSION_DENIED", "UNAUTHENTICATED", "RESOURCE_EXHAUSTED"}
#: A call not answered in this long counts as a hang.
DEADLINE_S = 15.0
#: A stream that yields this many messages has answered; it is then cancelled (a live Watch never ends by itself).
STREAM_TAKE = 2

_STRINGS = ["", " ", "a", "risk-seeking", "no-such-id", "exp-0000", "sweep:x", "../../etc/passwd", "/etc/passwd",
            "/dev/zero", "file:///etc/passwd", "http://127.0.0.1:1/x", "https://example.com/d.jsonl", "a\0b",
            "\u202e\U0001f600", "%s%n", "{{x}}", "ünï", "-1", "1e309", "NaN", "null", "true"]
_INTS = [0, 1, -1, 2, 7, 100, 2**31 - 1, -(2**31), 2**32 - 1, 2**63 - 1, -(2**63)]
_FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, 1e-300, 1e308, -1e308, math.inf, -math.inf, math.nan]
_INT_RANGE = {
    _d.FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1), _d.FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    _d.FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1), _d.FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    _d.FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1), _d.FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    _d.FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1), _d.FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    _d.FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1), _d.FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}
MAX_DEPTH = 5


@dataclass(frozen=True)
class Rpc:
    """One method of one service, with how to call it."""

    service: str
    method: _d.MethodDescriptor
    stub: type

    @property
    def name(self) -> str:
        return f"{self.service}.{self.method.name}"


def rpcs() -> list[Rpc]:
    """Every RPC of every service, from the descriptors (a new RPC is fuzzed without touching this file)."""
    found = []
    for service, (pb2, pb2_grpc) in SERVICES.items():
        for svc in pb2.DESCRIPTOR.services_by_name.values():
            stub = getattr(pb2_grpc, f"{svc.name}Stub")
            found += [Rpc(service, method, stub) for method in svc.methods]
    return found


def failed_precondition_documented() -> set[str]:
    """Method names whose leading comment in the .proto says they answer FAILED_PRECONDITION."""
    documented = set()
    for proto in PROTO_DIR.glob("*.proto"):
        comment: list[str] = []
        for line in proto.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith("//"):
                comment.append(stripped)
                continue
            rpc = re.match(r"rpc\s+(\w+)", stripped)
            if rpc and any("FAILED_PRECONDITION" in c for c in comment):
                documented.add(rpc.group(1))
            comment = []
    return documented


def _string(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.5:
        return rng.choice(_STRINGS)
    if roll < 0.8:
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789-_.:/") for _ in range(rng.randint(1, 40)))
    if roll < 0.9:
        return "".join(chr(rng.randint(1, 0x2FFF)) for _ in range(rng.randint(1, 20)))
    return rng.choice("ax/.") * rng.choice([300, 5_000, 100_000])


def _scalar(fd: _d.FieldDescriptor, rng: random.Random) -> Any:
    if fd.type == _d.FieldDescriptor.TYPE_STRING:
        return _string(rng)
    if fd.type == _d.FieldDescriptor.TYPE_BYTES:
        return _string(rng).encode("utf-8", "surrogatepass")
    if fd.type == _d.FieldDescriptor.TYPE_BOOL:
        return rng.random() < 0.5
    if fd.type in (_d.FieldDescriptor.TYPE_DOUBLE, _d.FieldDescriptor.TYPE_FLOAT):
        return rng.choice(_FLOATS) if rng.random() < 0.6 else rng.uniform(-1e6, 1e6)
    if fd.type == _d.FieldDescriptor.TYPE_ENUM:
        numbers = [v.number for v in fd.enum_type.values]
        return rng.choice(numbers) if rng.random() < 0.85 else max(numbers) + rng.randint(1, 1000)
    low, high = _INT_RANGE[fd.type]
    value = rng.choice(_INTS) if rng.random() < 0.6 else rng.randint(-5, 1000)
    return min(max(value, low), high)


def _json(rng: random.Random, depth: int) -> Any:
    """A JSON value for Struct/Value fields (the specs' `params`)."""
    roll = rng.random()
    if depth >= 3 or roll < 0.6:
        return rng.choice([None, True, False, 0, -1, 1.5, 1e308, rng.randint(-10, 10**6), _string(rng)])
    if roll < 0.8:
        return [_json(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {_string(rng): _json(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def fill(message: Message, rng: random.Random, seeds: Mapping[str, list[Message]], depth: int = 0) -> None:
    """Set a random subset of `message`'s fields to generated values (or copy and mutate a seed of its type)."""
    desc = message.DESCRIPTOR
    name = desc.full_name
    if name in seeds and rng.random() < 0.5:
        message.CopyFrom(rng.choice(seeds[name]))
        mutate(message, rng, seeds, depth)
        return
    if name == "google.protobuf.Struct":
        message.update({_string(rng): _json(rng, 1) for _ in range(rng.randint(0, 4))})  # type: ignore[attr-defined]
        return
    if name == "google.protobuf.Value":
        json_format.ParseDict(_json(rng, 0), message)
        return
    if name == "google.protobuf.Timestamp":
        message.seconds = rng.choice([0, -1, 1_700_000_000, 253_402_300_800, -62_135_596_801, 2**63 - 1])  # type: ignore[attr-defined]
        message.nanos = rng.choice([0, 999_999_999, 10**9, -1])  # type: ignore[attr-defined]
        return
    chosen_oneofs = {o.name: rng.choice(o.fields).name for o in desc.oneofs}
    for fd in desc.fields:
        if fd.containing_oneof is not None and chosen_oneofs[fd.containing_oneof.name] != fd.name:
            continue
        if rng.random() < 0.35:
            continue
        _set(message, fd, rng, seeds, depth)


def _set(message: Message, fd: _d.FieldDescriptor, rng: random.Random, seeds: Mapping[str, list[Message]],
         depth: int) -> None:
    is_message = fd.type == _d.FieldDescriptor.TYPE_MESSAGE
    if fd.is_repeated:
        message.ClearField(fd.name)
        target = getattr(message, fd.name)
        count = rng.choice([0, 1, 1, 2, 3]) if depth < MAX_DEPTH else 0
        if rng.random() < 0.03:  # oversized lists, kept to one level so that a request stays a few MB
            count = 2_000 if not is_message else 100 if depth == 0 else count
        if is_message and fd.message_type.GetOptions().map_entry:
            key_fd, value_fd = fd.message_type.fields_by_name["key"], fd.message_type.fields_by_name["value"]
            for _ in range(count):
                key = _scalar(key_fd, rng)
                if value_fd.type == _d.FieldDescriptor.TYPE_MESSAGE:
                    fill(target[key], rng, seeds, depth + 1)
                else:
                    target[key] = _scalar(value_fd, rng)
        elif is_message:
            for _ in range(count):
                fill(target.add(), rng, seeds, depth + 1)
        else:
            target.extend(_scalar(fd, rng) for _ in range(count))
    elif is_message:
        if depth < MAX_DEPTH:
            fill(getattr(message, fd.name), rng, seeds, depth + 1)
    else:
        setattr(message, fd.name, _scalar(fd, rng))


def mutate(message: Message, rng: random.Random, seeds: Mapping[str, list[Message]], depth: int = 0) -> None:
    """Replace one to three fields somewhere in `message` (a walk down set sub-messages) with generated values."""
    for _ in range(rng.randint(1, 3)):
        target, level = message, depth
        while True:
            present = [fd for fd, _ in target.ListFields()]
            subs = [fd for fd in present if fd.type == _d.FieldDescriptor.TYPE_MESSAGE
                    and not fd.is_repeated]
            if subs and rng.random() < 0.6:
                target, level = getattr(target, rng.choice(subs).name), level + 1
                continue
            break
        fields = list(target.DESCRIPTOR.fields)
        if not fields:
            continue
        fd = rng.choice(fields)
        if rng.random() < 0.3:
            target.ClearField(fd.name)
        else:
            _set(target, fd, rng, {}, level)


def request(rpc: Rpc, rng: random.Random, seeds: Mapping[str, list[Message]] | None = None) -> Message:
    """One generated request for `rpc`."""
    message = message_factory.GetMessageClass(rpc.method.input_type)()
    fill(message, rng, seeds or {})
    return message


@dataclass
class Tally:
    """Outcomes per RPC, and the requests behind every outcome that is not allowed."""

    counts: dict[str, Counter[str]] = field(default_factory=dict)
    bad: list[tuple[str, str, str, Message]] = field(default_factory=list)

    def add(self, rpc: str, outcome: str) -> None:
        self.counts.setdefault(rpc, Counter())[outcome] += 1

    def as_json(self) -> dict[str, dict[str, int]]:
        return {rpc: dict(sorted(c.items())) for rpc, c in sorted(self.counts.items())}


async def call(channel: grpc.aio.Channel, rpc: Rpc, message: Message) -> tuple[str, grpc.aio.AioRpcError | None, Any]:
    """Send one request; the outcome is the status code's name, or HANG when the deadline passed."""
    method = getattr(rpc.stub(channel), rpc.method.name)
    try:
        if rpc.method.server_streaming:
            stream = method(message, timeout=DEADLINE_S)
            taken = 0
            async for _ in stream:
                taken += 1
                if taken >= STREAM_TAKE:
                    stream.cancel()
                    return "OK", None, None
            return "OK", None, None
        return "OK", None, await method(message, timeout=DEADLINE_S)
    except grpc.aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
            return "HANG", error, None
        return error.code().name, error, None


def verdict(rpc: Rpc, outcome: str, error: grpc.aio.AioRpcError | None, documented: set[str]) -> str | None:
    """Why this outcome breaks the contract, or None when it is allowed."""
    if outcome == "FAILED_PRECONDITION":
        return None if rpc.method.name in documented else "FAILED_PRECONDITION not documented for this RPC"
    if outcome not in ALLOWED:
        return f"{outcome}: {(error.details() if error else '')[:300]}"
    if outcome == "INVALID_ARGUMENT" and error is not None and not field_violations(error):
        return f"INVALID_ARGUMENT without a field path: {(error.details() or '')[:300]}"
    return None


def schedule(count: int, seed: int) -> Iterator[tuple[Rpc, random.Random]]:
    """`count` (rpc, rng) pairs, round-robin over every RPC, each with its own reproducible seed."""
    every = rpcs()
    for n in range(count):
        yield every[n % len(every)], random.Random(f"{seed}:{n}")


async def fuzz(addresses: Mapping[str, str], count: int, seed: int = 0,
               seeds: Mapping[str, list[Message]] | None = None, credentials: Credentials = PLAINTEXT) -> Tally:
    """Send `count` generated requests to the servers at `addresses` (service -> host:port); tally the outcomes.

    A submission that is accepted is cancelled at once, so that the fuzz run does not start real training.
    """
    documented = failed_precondition_documented()
    tally = Tally()
    channels = {name: credentials.channel(address, options=[("grpc.max_send_message_length", 64 * 2**20)])
                for name, address in addresses.items()}
    try:
        for rpc, rng in schedule(count, seed):
            message = request(rpc, rng, seeds)
            outcome, error, reply = await call(channels[rpc.service], rpc, message)
            tally.add(rpc.name, outcome)
            problem = verdict(rpc, outcome, error, documented)
            if problem:
                tally.bad.append((rpc.name, outcome, problem, message))
            await _cancel_started(channels["aggregator"], rpc, reply)
    finally:
        for channel in channels.values():
            await channel.close()
    return tally


async def _cancel_started(channel: grpc.aio.Channel, rpc: Rpc, reply: Any) -> None:
    ids = []
    if rpc.method.name == "SubmitExperiment" and reply is not None:
        ids = [reply.id]
    elif rpc.method.name == "SubmitSweep" and reply is not None:
        ids = [cell.experiment_id for cell in reply.cells if cell.experiment_id]
    stub = aggregator_pb2_grpc.AggregatorServiceStub(channel)
    for experiment_id in ids:
        try:
            await stub.CancelExperiment(aggregator_pb2.CancelExperimentRequest(experiment_id=experiment_id),
                                        timeout=DEADLINE_S)
        except grpc.aio.AioRpcError:
            pass  # already ended (FAILED_PRECONDITION): nothing runs
