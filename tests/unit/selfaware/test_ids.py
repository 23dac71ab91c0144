"""Ids and digests from outside are checked before they reach a KV key, a subject or a cache path."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from selfaware.errors import DataError, SpecError
from selfaware.grpc_server import MAX_REQUEST_STRING, check_request
from selfaware.ids import id_problem, sha256_problem
from selfaware.store import ArtifactStore, sha256_hex
from selfaware.v1 import aggregator_pb2, generator_pb2

#: The probe's malformed ids: KV and subject syntax, whitespace, control bytes, and sizes over NATS's limits.
BAD_IDS = ["", ".", "..", "*", ">", "a.b", "a*", "a>", "exp.>", " ", "a b", "\t", "\0", "a\0b", "\n", "-a", "_a",
           "a/b", "../x", "é", "a" * 65, "x" * 10_000, "y" * 1_000_000]


@pytest.mark.parametrize("bad", BAD_IDS, ids=lambda v: repr(v[:12]) + (f"x{len(v)}" if len(v) > 12 else ""))
def test_malformed_ids_are_named_in_a_short_message(bad: str) -> None:
    problem = id_problem(bad)
    assert problem is not None
    assert len(problem) < 200 and "\0" not in problem


def test_ids_the_platform_makes_are_well_formed() -> None:
    for value in [uuid.uuid4().hex[:12], uuid.uuid4().hex, str(uuid.uuid4()), "no-such-experiment", "a" * 64, "A_1"]:
        assert id_problem(value) is None, value


def test_every_id_field_of_a_request_is_checked_and_overlong_strings_refused() -> None:
    check_request(aggregator_pb2.GetExperimentRequest(experiment_id="no-such-experiment"))
    for request in (aggregator_pb2.GetExperimentRequest(experiment_id="exp.>"),
                    generator_pb2.GetDatasetManifestRequest(experiment_id="")):
        with pytest.raises(SpecError) as caught:
            check_request(request)
        assert [v.field for v in caught.value.violations] == ["experiment_id"]
    with pytest.raises(SpecError) as caught:
        check_request(aggregator_pb2.CancelExperimentRequest(experiment_id="abc", reason="r" * (MAX_REQUEST_STRING + 1)))
    assert caught.value.violations[0].field == "reason"
    check_request(aggregator_pb2.ListExperimentsRequest())  # no id fields


def test_digests_are_checked_before_they_name_a_path(tmp_path: Path) -> None:
    assert sha256_problem(sha256_hex(b"x")) is None
    for bad in ["", "../../etc/passwd", "A" * 64, "a" * 63, "a" * 64 + "/", "g" * 64]:
        assert sha256_problem(bad) is not None, bad
    store = ArtifactStore(obs=None, cache_dir=tmp_path)  # never reached: the digest is refused first
    climb = "../" * len(tmp_path.parts) + "etc/passwd"  # the cache path of this name is /etc/passwd
    for call in (store.get_bytes, store.exists):
        with pytest.raises(DataError, match="not a sha256 digest"):
            asyncio.run(call(climb))
    assert list(tmp_path.iterdir()) == []
