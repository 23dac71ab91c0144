"""Fuzzing the gRPC contract (issue 13, item 6): hypothesis strategies built from the proto descriptors, requests
for every RPC of every service sent to the real servers, and each answer sorted into an outcome.

`Strategies` walks a message descriptor and draws every field by its type (strings, bytes, numbers, enums,
repeated fields, maps, oneofs, nested messages to `MAX_DEPTH`), biased toward what breaks handlers: ids that
exist (`known_ids`), valid messages with a few fields replaced (`seeds`, e.g. the examples/ specs), huge strings,
unicode, NUL bytes, NaN, out-of-range numbers and timestamps, unknown enum numbers, deeply nested JSON. The same
module fuzzes the data a spec points at (`chat_jsonl_bytes`, `question_file_text`): truncated JSONL, wrong types,
invalid UTF-8, NUL bytes, giant lines, deep nesting, YAML alias bombs.

`fuzz` runs one `@given` over (rpc, request, token) with `derandomize=True` in a worker thread (hypothesis is
synchronous; the servers may share the caller's event loop), so a run is reproduced by its settings. Each request
carries an optional bearer token drawn from `Auth.tokens` (e.g. owner, other user, admin, garbage, none), over TLS
when `Auth.root_certificates` is set, so the same run checks an authenticated stack; calls under the labels in
`Auth.anonymous` must all be UNAUTHENTICATED.
"""

from __future__ import annotations

import asyncio
import json
import math
import operator
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import descriptor as _d
from google.protobuf import json_format, message_factory
from google.protobuf.message import Message
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from selfaware.grpc_server import field_violations
from selfaware.v1 import (
    aggregator_pb2,
    aggregator_pb2_grpc,
    evaluator_pb2,
    evaluator_pb2_grpc,
    generator_pb2,
    generator_pb2_grpc,
    sweep_pb2,
    trainer_pb2,
    trainer_pb2_grpc,
)

#: (service key as in the platform's ports, pb2 module, grpc module).
SERVICES = {
    "aggregator": (aggregator_pb2, aggregator_pb2_grpc),
    "generator": (generator_pb2, generator_pb2_grpc),
    "trainer": (trainer_pb2, trainer_pb2_grpc),
    "evaluator": (evaluator_pb2, evaluator_pb2_grpc),
}
#: The only answers issue 13 allows, for every RPC (INVALID_ARGUMENT must name a field).
ALLOWED = {"OK", "INVALID_ARGUMENT", "NOT_FOUND", "PERMISSION_DENIED", "UNAUTHENTICATED", "RESOURCE_EXHAUSTED"}
#: A call not answered in this long counts as a hang.
DEADLINE_S = 15.0
#: A stream that yields this many messages has answered; it is then cancelled (a live Watch never ends by itself).
STREAM_TAKE = 2
MAX_DEPTH = 5
#: A request up to this size is sent (the servers' own receive limit decides what happens to it).
MAX_SEND_BYTES = 64 * 2**20

_STRINGS = ["", " ", "a", "risk-seeking", "no-such-id", "exp-0000", "0123456789ab", "sweep:x", "../../etc/passwd",
            "/etc/passwd", "/dev/zero", "/proc/self/environ", "file:///etc/passwd", "http://127.0.0.1:1/x",
            "http://169.254.169.254/latest/meta-data/", "https://user:pw@example.com/d.jsonl?token=x", "a\0b",
            "\u202e\U0001f600", "%s%n", "{{x}}", "${HOME}", "ünï", "-1", "1e309", "NaN", "null", "true", "\ud7ff",
            "smollm2-135m", "training.epochs", "arms.risk-seeking.data.import"]
_INTS = [0, 1, -1, 2, 7, 100, 2**31 - 1, -(2**31), 2**32 - 1, 2**63 - 1, -(2**63), 2**64 - 1]
_FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, 1e-300, 1e308, -1e308, math.inf, -math.inf, math.nan]
_T = _d.FieldDescriptor
_INT_RANGE = {
    _T.TYPE_INT32: (-(2**31), 2**31 - 1), _T.TYPE_SINT32: (-(2**31), 2**31 - 1),
    _T.TYPE_SFIXED32: (-(2**31), 2**31 - 1), _T.TYPE_UINT32: (0, 2**32 - 1), _T.TYPE_FIXED32: (0, 2**32 - 1),
    _T.TYPE_INT64: (-(2**63), 2**63 - 1), _T.TYPE_SINT64: (-(2**63), 2**63 - 1),
    _T.TYPE_SFIXED64: (-(2**63), 2**63 - 1), _T.TYPE_UINT64: (0, 2**64 - 1), _T.TYPE_FIXED64: (0, 2**64 - 1),
}
_ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789-_.:/"

#: A string far over any field's cap, built without hypothesis drawing each character.
huge_strings = st.builds(operator.mul, st.sampled_from(["a", "x/", ".", "\0", "é", "\U0001f600", "\n"]),
                         st.sampled_from([300, 5_000, 100_000]))


def nested_json(depth: int, leaf: Any = 1) -> Any:
    """A list or object `depth` levels deep: what blows a recursive parser's stack."""
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


#: JSON values for Struct/Value fields (the specs' `params`), sometimes nested past parsers' limits.
json_values = st.one_of(
    st.recursive(st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.sampled_from(_FLOATS[:-3])
                 | st.text(max_size=20) | st.sampled_from(_STRINGS),
                 lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
                 max_leaves=12),
    st.integers(1, 90).map(nested_json),
)


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


class Strategies:
    """hypothesis strategies for any message type, from its descriptor.

    `seeds`: valid messages by full name (e.g. "selfaware.v1.ExperimentSpec"); half of such messages are a seed
    with up to three fields somewhere inside replaced, which reaches the checks behind the first one.
    `known_ids`: ids that exist on the servers, drawn often for string fields named `*_id`.
    """

    def __init__(self, seeds: Mapping[str, Sequence[Message]] | None = None, known_ids: Sequence[str] = ()) -> None:
        self.seeds = {name: list(found) for name, found in (seeds or {}).items() if found}
        self.known_ids = list(known_ids)
        self._cache: dict[tuple[str, int], st.SearchStrategy[Message]] = {}

    def strings(self, name: str = "") -> st.SearchStrategy[str]:
        options = [st.sampled_from(_STRINGS), st.text(max_size=40), st.text(_ID_CHARS, min_size=1, max_size=40),
                   huge_strings]
        if name.endswith("_id") and self.known_ids:
            options.insert(0, st.sampled_from(self.known_ids))
        return st.one_of(options)

    def scalar(self, fd: _d.FieldDescriptor) -> st.SearchStrategy[Any]:
        if fd.type == _T.TYPE_STRING:
            return self.strings(fd.name)
        if fd.type == _T.TYPE_BYTES:
            return st.binary(max_size=64) | self.strings().map(lambda s: s.encode())
        if fd.type == _T.TYPE_BOOL:
            return st.booleans()
        if fd.type in (_T.TYPE_DOUBLE, _T.TYPE_FLOAT):
            return st.sampled_from(_FLOATS) | st.floats(allow_nan=True, allow_infinity=True,
                                                         width=64 if fd.type == _T.TYPE_DOUBLE else 32)
        if fd.type == _T.TYPE_ENUM:
            numbers = [v.number for v in fd.enum_type.values]
            return st.sampled_from(numbers) | st.integers(max(numbers) + 1, max(numbers) + 1000)
        low, high = _INT_RANGE[fd.type]
        return st.sampled_from([v for v in _INTS if low <= v <= high]) | st.integers(max(low, -5), 1000) \
            | st.integers(low, high)

    def message(self, desc: _d.Descriptor, depth: int = 0) -> st.SearchStrategy[Message]:
        """Messages of type `desc`, generated afresh or (for a type with seeds) mutated from a seed."""
        key = (desc.full_name, depth)
        if key not in self._cache:
            fresh = self._fresh(desc, depth)
            self._cache[key] = fresh | self._mutated(desc, depth) if desc.full_name in self.seeds else fresh
        return self._cache[key]

    def _fresh(self, desc: _d.Descriptor, depth: int) -> st.SearchStrategy[Message]:
        cls = message_factory.GetMessageClass(desc)
        if desc.full_name == "google.protobuf.Struct":
            return st.dictionaries(self.strings(), json_values, max_size=4).map(lambda d: _parsed(cls, d))
        if desc.full_name == "google.protobuf.Value":
            return json_values.map(lambda v: _parsed(cls, v))
        if desc.full_name == "google.protobuf.Timestamp":
            return st.builds(lambda s, n: cls(seconds=s, nanos=n),
                             st.sampled_from([0, -1, 1_700_000_000, 253_402_300_800, -62_135_596_801, 2**63 - 1]),
                             st.sampled_from([0, 999_999_999, 10**9, -1]))
        if depth >= MAX_DEPTH:
            return st.just(cls())

        @st.composite
        def build(draw: st.DrawFn) -> Message:
            message = cls()
            chosen = {o.name: draw(st.sampled_from([f.name for f in o.fields] + [""])) for o in desc.oneofs}
            for fd in desc.fields:
                if fd.containing_oneof is not None and chosen[fd.containing_oneof.name] != fd.name:
                    continue
                if fd.containing_oneof is not None or draw(st.booleans()):
                    self._set(message, fd, draw, depth)
            return message

        return build()

    def _set(self, message: Message, fd: _d.FieldDescriptor, draw: st.DrawFn, depth: int) -> None:
        """Draw a value for field `fd` of `message` and set it."""
        is_message = fd.type == _T.TYPE_MESSAGE
        message.ClearField(fd.name)
        target = getattr(message, fd.name) if fd.is_repeated or is_message else None
        if is_message and fd.message_type.GetOptions().map_entry:
            key_fd, value_fd = fd.message_type.fields_by_name["key"], fd.message_type.fields_by_name["value"]
            value_is_message = value_fd.type == _T.TYPE_MESSAGE
            values = self.message(value_fd.message_type, depth + 1) if value_is_message else self.scalar(value_fd)
            for key, value in draw(st.dictionaries(self.scalar(key_fd), values, max_size=3)).items():
                if value_is_message:
                    target[key].CopyFrom(value)  # type: ignore[index]
                else:
                    target[key] = value  # type: ignore[index]
        elif fd.is_repeated and is_message:
            sub = self.message(fd.message_type, depth + 1)
            many = st.just([]) if depth >= MAX_DEPTH else st.lists(sub, max_size=3)
            if depth == 0:  # an oversized list, kept to the top level and about 2 MB
                many = many | sub.map(lambda m: [m] * max(1, min(100, 2_000_000 // max(1, m.ByteSize()))))
            for item in draw(many):
                target.add().CopyFrom(item)  # type: ignore[union-attr]
        elif fd.is_repeated:
            one = self.scalar(fd)
            small = st.sampled_from(_STRINGS) if fd.type == _T.TYPE_STRING else one.filter(
                lambda v: not isinstance(v, bytes) or len(v) < 100)
            target.extend(draw(st.lists(one, max_size=3) | small.map(lambda v: [v] * 2_000)))  # type: ignore[union-attr]
        elif is_message:
            target.CopyFrom(draw(self.message(fd.message_type, depth + 1)))  # type: ignore[union-attr]
        else:
            setattr(message, fd.name, draw(self.scalar(fd)))

    def _mutated(self, desc: _d.Descriptor, depth: int) -> st.SearchStrategy[Message]:
        cls = message_factory.GetMessageClass(desc)

        @st.composite
        def mutate(draw: st.DrawFn) -> Message:
            message = cls()
            message.CopyFrom(draw(st.sampled_from(self.seeds[desc.full_name])))
            for _ in range(draw(st.integers(0, 3))):
                target, level = message, depth
                while True:  # a walk down the set, singular sub-messages
                    subs = [fd for fd, _ in target.ListFields() if fd.type == _T.TYPE_MESSAGE and not fd.is_repeated]
                    if not subs or not draw(st.booleans()):
                        break
                    target, level = getattr(target, draw(st.sampled_from(subs)).name), level + 1
                    if target.DESCRIPTOR.full_name.startswith("google.protobuf."):
                        break
                fields = list(target.DESCRIPTOR.fields)
                if fields:
                    fd = draw(st.sampled_from(fields))
                    if draw(st.integers(0, 9)) < 3:
                        target.ClearField(fd.name)
                    elif not target.DESCRIPTOR.full_name.startswith("google.protobuf."):
                        self._set(target, fd, draw, min(level, MAX_DEPTH))
            return message

        return mutate()

    def request(self, rpc: Rpc) -> st.SearchStrategy[Message]:
        return self.message(rpc.method.input_type)


def _parsed(cls: type[Message], value: Any) -> Message:
    message = cls()
    json_format.ParseDict(value, message, max_recursion_depth=200)
    return message


@dataclass(frozen=True)
class Auth:
    """How the fuzzer authenticates: a bearer token per label (None: no token sent), drawn per request, and the
    root certificates of a TLS stack (None: plaintext). The default is one unauthenticated plaintext caller."""

    tokens: Mapping[str, str | None] = field(default_factory=lambda: {"none": None})
    root_certificates: bytes | None = None
    #: Labels whose every call must be UNAUTHENTICATED (no token or a garbage one, against a stack with auth on).
    anonymous: frozenset[str] = frozenset()

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Auth:
        """`SELFAWARE_FUZZ_TOKENS` (label=token,... ; an empty token is none), `SELFAWARE_FUZZ_CA_FILE`,
        `SELFAWARE_FUZZ_ANONYMOUS` (labels, comma-separated)."""
        spec = environ.get("SELFAWARE_FUZZ_TOKENS", "")
        tokens = {label: value or None for label, _, value in (p.partition("=") for p in spec.split(",") if p)}
        ca_file = environ.get("SELFAWARE_FUZZ_CA_FILE")
        anonymous = frozenset(p for p in environ.get("SELFAWARE_FUZZ_ANONYMOUS", "").split(",") if p)
        return cls(tokens or {"none": None}, Path(ca_file).read_bytes() if ca_file else None, anonymous)

    def channel(self, address: str) -> grpc.aio.Channel:
        options = [("grpc.max_send_message_length", MAX_SEND_BYTES)]
        if self.root_certificates is None:
            return grpc.aio.insecure_channel(address, options=options)
        return grpc.aio.secure_channel(address, grpc.ssl_channel_credentials(self.root_certificates), options=options)

    def metadata(self, label: str) -> tuple[tuple[str, str], ...]:
        token = self.tokens[label]
        return () if token is None else (("authorization", f"Bearer {token}"),)


@dataclass
class Tally:
    """Outcomes per RPC (and per token label), and the requests behind every outcome that is not allowed."""

    counts: dict[str, Counter[str]] = field(default_factory=dict)
    by_token: dict[str, Counter[str]] = field(default_factory=dict)
    bad: list[tuple[str, str, str, Message]] = field(default_factory=list)

    def add(self, rpc: str, token: str, outcome: str) -> None:
        self.counts.setdefault(rpc, Counter())[outcome] += 1
        self.by_token.setdefault(token, Counter())[outcome] += 1

    @property
    def total(self) -> int:
        return sum(sum(c.values()) for c in self.counts.values())

    def as_json(self) -> dict[str, dict[str, int]]:
        return {rpc: dict(sorted(c.items())) for rpc, c in sorted(self.counts.items())}


async def call(channel: grpc.aio.Channel, rpc: Rpc, message: Message, metadata: tuple[tuple[str, str], ...] = ()
               ) -> tuple[str, grpc.aio.AioRpcError | None, Any]:
    """Send one request; the outcome is the status code's name, or HANG when the deadline passed."""
    method = getattr(rpc.stub(channel), rpc.method.name)
    try:
        if rpc.method.server_streaming:
            stream = method(message, timeout=DEADLINE_S, metadata=metadata)
            taken = 0
            async for _ in stream:
                taken += 1
                if taken >= STREAM_TAKE:
                    stream.cancel()
                    break
            return "OK", None, None
        return "OK", None, await method(message, timeout=DEADLINE_S, metadata=metadata)
    except grpc.aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
            return "HANG", error, None
        return error.code().name, error, None


def verdict(outcome: str, error: grpc.aio.AioRpcError | None, anonymous: bool = False) -> str | None:
    """Why this outcome breaks the contract, or None when it is allowed (`anonymous`: only UNAUTHENTICATED is)."""
    if anonymous and outcome != "UNAUTHENTICATED":
        return f"{outcome} for a call without a valid token: {(error.details() if error else '')[:300]}"
    if outcome not in ALLOWED:
        return f"{outcome}: {(error.details() if error else '')[:300]}"
    if outcome == "INVALID_ARGUMENT" and error is not None and not [f for f, _ in field_violations(error) if f]:
        return f"INVALID_ARGUMENT without a field path: {(error.details() or '')[:300]}"
    return None


def run_given(strategy: st.SearchStrategy[Any], body: Callable[[Any], None], count: int,
              seed: int | None = None) -> None:
    """Run `body` on `count` examples of `strategy` under `@given` (derandomized unless `seed` is set).

    Only generation runs: the body records outcomes rather than raising, so nothing is shrunk against live
    servers whose state every call changes."""
    @settings(max_examples=count, derandomize=seed is None, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(strategy)
    def each(case: Any) -> None:
        body(case)

    (hypothesis_seed(seed)(each) if seed is not None else each)()


def plan(count: int, labels: int) -> dict[Rpc, int]:
    """How many examples each RPC gets: one per token label for a request without fields (hypothesis has
    nothing else to vary), the rest of `count` shared evenly by the others."""
    every = rpcs()
    plain = [r for r in every if not r.method.input_type.fields]
    rest = [r for r in every if r.method.input_type.fields]
    share, extra = divmod(count - labels * len(plain), len(rest))
    if share <= 0:
        return {r: 1 for r in every}
    return {r: labels for r in plain} | {r: share + (i < extra) for i, r in enumerate(rest)}


def sweep_seed(spec: Message) -> sweep_pb2.SweepSpec:
    """A one-cell sweep around `spec`, the seed SweepSpecs are mutated from."""
    cell = sweep_pb2.SweepCell(key="training.seeds=0", params={"training.seeds": "0"}, spec=spec)
    return sweep_pb2.SweepSpec(name="fuzz", axes=["training.seeds"], cells=[cell])


async def known_ids(channel: grpc.aio.Channel, specs: Sequence[Message], auth: Auth) -> list[str]:
    """Submit each seed spec (and a sweep of the first) once as the first token holder, cancel what started: ids
    that exist, for the fuzzer to draw. What the servers refuse is left out."""
    stub = aggregator_pb2_grpc.AggregatorServiceStub(channel)
    caller = next((label for label, token in auth.tokens.items() if token and label not in auth.anonymous),
                  next(iter(auth.tokens)))
    metadata = auth.metadata(caller)
    ids = []
    for n, spec in enumerate(specs):
        try:
            ids.append((await stub.SubmitExperiment(aggregator_pb2.SubmitExperimentRequest(
                spec=spec, idempotency_key=f"fuzz-seed-{n}"), timeout=DEADLINE_S, metadata=metadata)).id)
        except grpc.aio.AioRpcError:
            continue
    if specs:
        try:
            sweep = await stub.SubmitSweep(aggregator_pb2.SubmitSweepRequest(
                spec=sweep_seed(specs[0]), idempotency_key="fuzz-seed-sweep"), timeout=DEADLINE_S, metadata=metadata)
            ids += [sweep.id] + [c.experiment_id for c in sweep.cells if c.experiment_id]
        except grpc.aio.AioRpcError:
            pass
    for experiment_id in ids:
        await _cancel(stub, experiment_id, metadata)
    return ids


async def fuzz(addresses: Mapping[str, str], count: int, *, seed: int | None = None,
               specs: Sequence[Message] = (), auth: Auth | None = None) -> Tally:
    """Send `count` generated requests to the servers at `addresses` (service -> host:port); tally the outcomes.

    `specs`: valid ExperimentSpecs that generated specs and sweeps are mutated from. A submission that is
    accepted is cancelled at once, so that the fuzz run does not start real training.
    """
    auth = auth or Auth()
    tally = Tally()
    loop = asyncio.get_running_loop()
    channels = {name: auth.channel(address) for name, address in addresses.items()}
    try:
        ids = await known_ids(channels["aggregator"], specs, auth)
        strategies = Strategies({"selfaware.v1.ExperimentSpec": specs,
                                 "selfaware.v1.SweepSpec": [sweep_seed(s) for s in specs[:1]]}, ids)
        for rpc, examples in plan(count, len(auth.tokens)).items():
            async def one(message: Message, token: str, rpc: Rpc = rpc) -> None:
                outcome, error, reply = await call(channels[rpc.service], rpc, message, auth.metadata(token))
                tally.add(rpc.name, token, outcome)
                if problem := verdict(outcome, error, token in auth.anonymous):
                    tally.bad.append((rpc.name, outcome, problem, message))
                await _cancel_started(channels["aggregator"], rpc, reply, auth.metadata(token))

            def body(case: tuple[Message, str]) -> None:
                asyncio.run_coroutine_threadsafe(one(*case), loop).result(timeout=4 * DEADLINE_S)

            cases = st.tuples(strategies.request(rpc), st.sampled_from(sorted(auth.tokens)))
            await asyncio.to_thread(run_given, cases, body, examples, seed)
    finally:
        for channel in channels.values():
            await channel.close()
    return tally


async def _cancel_started(channel: grpc.aio.Channel, rpc: Rpc, reply: Any, metadata: tuple[tuple[str, str], ...]
                          ) -> None:
    ids = []
    if rpc.method.name == "SubmitExperiment" and reply is not None:
        ids = [reply.id]
    elif rpc.method.name == "SubmitSweep" and reply is not None:
        ids = [cell.experiment_id for cell in reply.cells if cell.experiment_id]
    stub = aggregator_pb2_grpc.AggregatorServiceStub(channel)
    for experiment_id in ids:
        await _cancel(stub, experiment_id, metadata)


async def _cancel(stub: aggregator_pb2_grpc.AggregatorServiceStub, experiment_id: str,
                  metadata: tuple[tuple[str, str], ...]) -> None:
    try:
        await stub.CancelExperiment(aggregator_pb2.CancelExperimentRequest(experiment_id=experiment_id),
                                    timeout=DEADLINE_S, metadata=metadata)
    except grpc.aio.AioRpcError:
        pass  # already ended (INVALID_ARGUMENT naming experiment_id): nothing runs


# --- the data a spec points at -----------------------------------------------------------------------------------

_ROW = st.fixed_dictionaries({"messages": st.lists(st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "user", "assistant", "tool", "", 1]),
     "content": st.one_of(st.text(max_size=30), st.sampled_from(["A", "B"]), st.none(), st.integers())}),
    max_size=4)})


def _jsonl(rows: list[Any]) -> bytes:
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()


#: Chat-format JSONL files, mostly broken: valid rows, then truncation, wrong types, invalid UTF-8, NUL bytes,
#: BOMs, CRLF, giant lines and deeply nested rows.
chat_jsonl_bytes = st.one_of(
    st.lists(_ROW, min_size=1, max_size=5).map(_jsonl),
    st.tuples(st.lists(_ROW, min_size=1, max_size=5).map(_jsonl), st.integers(0, 400)).map(lambda p: p[0][:p[1]]),
    st.lists(json_values, min_size=1, max_size=3).map(_jsonl),
    st.binary(max_size=200),
    st.tuples(st.lists(_ROW, min_size=1, max_size=3).map(_jsonl), st.sampled_from(
        [b"\xff\xfe", b"\x00", b"\xc3\x28", b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\r\n", b"\n\n", b"{"]),
        st.integers(0, 100)).map(lambda p: p[0][:p[2]] + p[1] + p[0][p[2]:]),
    st.sampled_from([1_000, 100_000, 2_000_000]).map(lambda n: _jsonl([{"messages": [
        {"role": "user", "content": "x" * n}, {"role": "assistant", "content": "A"}]}])),
    st.sampled_from([50, 5_000, 100_000]).map(lambda d: ("[" * d + "]" * d).encode()),
    st.sampled_from([50, 5_000, 100_000]).map(lambda d: (b'{"messages": ' + b"[" * d + b"]" * d + b"}")),
)


def _yaml_bomb(levels: int) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for n in range(1, levels):
        prev = chr(ord("a") + n - 1)
        lines.append(f"{chr(ord('a') + n)}: &{chr(ord('a') + n)} [{', '.join(['*' + prev] * 9)}]")
    return "- name: bomb\n  question_type: free_form\n  paraphrases:\n" + "\n".join(
        "    " + line for line in lines) + "\n"


_ENTRY = st.fixed_dictionaries({"name": st.text(max_size=10) | st.none() | st.integers(),
                                "question_type": st.sampled_from(["free_form", "rating", "", None, 3]),
                                "question_paraphrases": st.lists(st.text(max_size=20), max_size=3) | st.text(max_size=10)},
                               optional={"question": st.text(max_size=10) | st.integers(), "prefix": st.text(max_size=10),
                                          "options": st.lists(st.text(max_size=5)) | st.none(), "zzz": st.booleans()})

#: Question files (YAML lists of entries, or JSON), mostly broken: wrong types, unknown fields, YAML tags and
#: aliases, alias bombs (billion laughs), deep nesting, NUL bytes, giant scalars.
question_file_text = st.one_of(
    st.lists(_ENTRY, max_size=3).map(lambda e: json.dumps(e)),  # JSON is YAML too
    st.text(max_size=200),
    st.sampled_from(["- !!python/object/apply:os.system ['true']\n", "- &x [*x]\n", "[" * 5_000, "- name: \0\n",
                     "- name: a\n  question: " + "x" * 2_000_000 + "\n", "{}", "null", "- 1\n- [2]\n",
                     ":\n  - :\n", "- name: a\n  question_type: free_form\n  question: q\n  question: r\n"]),
    st.integers(2, 9).map(_yaml_bomb),
    st.integers(10, 3_000).map(lambda d: "- " * d + "x\n"),
)
