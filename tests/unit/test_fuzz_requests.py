"""The contract fuzzer's own parts (tests/fuzz_requests.py): strategies exist for every message type of every
proto and give messages that serialize, the example budget covers every RPC, and the token set parses."""

from __future__ import annotations

from google.protobuf import descriptor as _d
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from selfaware.v1 import (
    aggregator_pb2,
    catalogue_pb2,
    evaluator_pb2,
    events_pb2,
    generator_pb2,
    records_pb2,
    spec_pb2,
    sweep_pb2,
    trainer_pb2,
)
from tests.fuzz_requests import Auth, Strategies, plan, rpcs, verdict


def _all_messages() -> list[_d.Descriptor]:
    found: dict[str, _d.Descriptor] = {}

    def walk(desc: _d.Descriptor) -> None:
        if desc.full_name in found:
            return
        found[desc.full_name] = desc
        for nested in desc.nested_types:
            walk(nested)
        for fd in desc.fields:
            if fd.message_type is not None:
                walk(fd.message_type)

    for module in (aggregator_pb2, catalogue_pb2, evaluator_pb2, events_pb2, generator_pb2, records_pb2, spec_pb2,
                   sweep_pb2, trainer_pb2):
        for desc in module.DESCRIPTOR.message_types_by_name.values():
            walk(desc)
    return sorted(found.values(), key=lambda d: d.full_name)


MESSAGES = _all_messages()
STRATEGIES = Strategies()


@settings(max_examples=300, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(MESSAGES).flatmap(lambda desc: st.tuples(st.just(desc), STRATEGIES.message(desc))))
def test_every_message_type_has_a_strategy_whose_messages_serialize(case: tuple[_d.Descriptor, object]) -> None:
    desc, message = case
    assert message.DESCRIPTOR is desc  # type: ignore[attr-defined]
    assert len(message.SerializeToString()) < 8 * 2**20  # type: ignore[attr-defined]


def test_the_budget_gives_every_rpc_examples_and_adds_up() -> None:
    budget = plan(10_000, 5)
    assert set(budget) == set(rpcs()) and sum(budget.values()) == 10_000
    assert all(n == 5 for r, n in budget.items() if not r.method.input_type.fields)
    assert plan(3, 1) == {r: 1 for r in rpcs()}


def test_tokens_and_roots_come_from_the_environment(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "ca.pem").write_bytes(b"roots")
    auth = Auth.from_env({"SELFAWARE_FUZZ_TOKENS": "owner=t1,other=t2,garbage=xx,none=",
                          "SELFAWARE_FUZZ_CA_FILE": str(tmp_path / "ca.pem"), "SELFAWARE_FUZZ_ANONYMOUS": "none,garbage"})
    assert auth.tokens == {"owner": "t1", "other": "t2", "garbage": "xx", "none": None}
    assert auth.root_certificates == b"roots" and auth.anonymous == {"none", "garbage"}
    assert auth.metadata("owner") == (("authorization", "Bearer t1"),) and auth.metadata("none") == ()
    assert Auth.from_env({}).tokens == {"none": None} and Auth.from_env({}).root_certificates is None


def test_an_anonymous_caller_may_only_be_unauthenticated() -> None:
    assert verdict("UNAUTHENTICATED", None, anonymous=True) is None
    assert verdict("OK", None, anonymous=True) and verdict("NOT_FOUND", None, anonymous=True)
    assert verdict("OK", None) is None and verdict("INTERNAL", None) and verdict("FAILED_PRECONDITION", None)
