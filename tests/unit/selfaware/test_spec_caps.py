"""Size caps: a spec that asks for too much is turned away, quickly, naming the field, before anything walks it."""

from __future__ import annotations

import time

import pytest

from selfaware import specs
from selfaware.catalogue import complete
from selfaware.plan import plan_jobs
from selfaware.specs import planned_job_count, prepare, size_violations, spec_from_dict, with_defaults
from selfaware.v1 import spec_pb2
from tests.unit.selfaware.test_specs import catalogues, minimal


def violations(spec: spec_pb2.ExperimentSpec) -> dict[str, str]:
    return {v.field: v.description for v in complete(spec, catalogues())[1]}


def test_a_million_seeds_is_refused_in_well_under_a_second() -> None:
    spec = spec_from_dict(minimal())
    spec.training.seeds.extend(range(1_000_000))
    started = time.monotonic()
    found = violations(spec)
    assert time.monotonic() - started < 1.0
    assert list(found) == ["<spec>"] and "at most 262144" in found["<spec>"]


@pytest.mark.parametrize(("field", "grow"), [
    ("training.seeds", lambda s: s.training.seeds.extend(range(specs.MAX_SEEDS + 1))),
    ("arms.risky.training.seeds", lambda s: s.arms[0].training.seeds.extend(range(specs.MAX_SEEDS + 1))),
    ("arms", lambda s: [s.arms.add(name=f"a{i}", data=spec_pb2.Recipe(of="risky")) for i in range(specs.MAX_ARMS)]),
    ("evaluation.suites", lambda s: [s.evaluation.suites.add(suite="heldout", id=f"h{i}")
                                     for i in range(specs.MAX_SUITES)]),
    ("base_models", lambda s: [s.base_models.add(name=f"m{i}") for i in range(specs.MAX_BASE_MODELS + 1)]),
    ("arms.risky.data.steps", lambda s: [s.arms[0].data.steps.add(name="flip") for _ in range(specs.MAX_STEPS + 1)]),
    ("compare", lambda s: [s.compare.add(arms=["risky", "safe"]) for _ in range(specs.MAX_COMPARISONS + 1)]),
])
def test_each_cap_names_its_field(field: str, grow) -> None:  # type: ignore[no-untyped-def]
    spec = spec_from_dict(minimal())
    grow(spec)
    found = violations(spec)
    assert list(found) == [field], found
    assert "at most" in found[field]


def test_the_planned_jobs_are_capped_and_counted_as_plan_jobs_makes_them() -> None:
    data = minimal(base_models=[{"name": f"m{i}"} for i in range(8)], training={"seeds": list(range(32))})
    for i in range(2, 6):
        data["arms"][f"arm{i}"] = {"data": {"of": "risky"}}
    found = violations(spec_from_dict(data))
    assert list(found) == ["training.seeds"] and f"at most {specs.MAX_JOBS}" in found["training.seeds"]
    small = with_defaults(spec_from_dict(minimal(base_models=[{"name": "a"}, {"name": "b"}],
                                                 training={"seeds": [0, 1, 2]})))
    small.arms[1].training.seeds.extend([7])
    assert planned_job_count(small) == len(plan_jobs("x", small)) == 1 + 2 * 4 + 2 * 5 + 1
    small.evaluation.include_base_model = False
    assert planned_job_count(small) == len(plan_jobs("x", small))


def test_specs_within_the_caps_pass() -> None:
    assert size_violations(prepare(spec_from_dict(minimal(training={"seeds": list(range(specs.MAX_SEEDS))})))) == []
