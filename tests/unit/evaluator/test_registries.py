"""Contract tests over every registered suite and engine (engines are built in tests/slow, which has a model)."""

import json
import subprocess
import sys

import pytest

from selfaware.probes import ProbeItem
from selfaware.registry import UnknownName
from services.evaluator.engines import ENGINES, build_engine
from services.evaluator.evaluation import EvaluationPlan
from services.evaluator.suites import SUITES, ChoiceQuery, SampleQuery, Suite, suite_descriptions

#: Heavy or transport libraries the domain layer must not pull in (grpc, nats and protos belong to the service).
HEAVY = ("torch", "vllm", "transformers", "peft", "grpc", "nats", "selfaware.v1")


def test_importing_the_evaluator_domain_stays_light():
    code = (
        "import sys, services.evaluator.engines, services.evaluator.suites, services.evaluator.evaluation\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_builtin_engines_are_registered():
    assert {"vllm", "hf"} <= set(ENGINES.names())


def test_unknown_engine_lists_choices():
    with pytest.raises(UnknownName, match="did you mean 'vllm'.*hf, vllm"):
        build_engine("vlm", "/nowhere")


def test_unknown_suite_lists_choices():
    with pytest.raises(UnknownName, match="choose one of: heldout, lotteries"):
        SUITES.get("lottery_probe")


@pytest.fixture
def plan(questions_dir):
    probe = (ProbeItem("p0", ({"role": "user", "content": "A or B?"},), "B"),)
    return EvaluationPlan(suites=tuple(SUITES.names()), samples_per_paraphrase=3, temperature=1.0,
                          lottery_pairs=4, questions_uri=str(questions_dir), seed=7, probe=probe)


@pytest.mark.parametrize("name", SUITES.names())
def test_every_suite_follows_the_contract(name, plan):
    suite = SUITES.get(name)()
    assert isinstance(suite, Suite)
    assert suite.name == name and suite.kind in ("behaviour", "self-report") and suite.description
    queries = suite.queries(plan)
    assert queries and len({q.item for q in queries}) == len(queries)
    assert queries == suite.queries(plan)  # deterministic
    for query in queries:
        if isinstance(query, ChoiceQuery):
            answer = {query.target: 0.5, "B" if query.target == "A" else "A": 0.25}
            records = suite.score(query, answer)
            assert [r["score"] for r in records] == [pytest.approx(2 / 3)]
        else:
            assert isinstance(query, SampleQuery) and query.n == 3
            records = suite.score(query, ["risk", "42", "?"])
            assert len(records) == 3
        for record in records:
            json.dumps(record)
            assert record["suite"] == name and record["item"] == query.item and record["prompt"]
            assert record["score"] is None or 0.0 <= record["score"] <= 1.0


def test_suite_descriptions_cover_every_suite():
    infos = suite_descriptions()
    assert [i.name for i in infos] == SUITES.names()
    assert {i.kind for i in infos} == {"behaviour", "self-report"}
