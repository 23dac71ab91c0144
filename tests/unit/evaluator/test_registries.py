"""Contract tests over every registered suite and engine (engines are built in tests/slow, which has a model)."""

import dataclasses
import subprocess
import sys

import pytest

from selfaware.params import REQUIRED, check_params
from selfaware.registry import UnknownName
from services.evaluator.catalogue import catalogue
from services.evaluator.engines import ENGINES, build_engine
from services.evaluator.evaluation import query_units
from services.evaluator.suites import (
    SUITES,
    ChoiceQuery,
    InteractiveSuite,
    PlayQuery,
    ProbsAnswer,
    ProbsQuery,
    SampleQuery,
    Suite,
)
from services.evaluator.suites.question_types import QUESTION_TYPES

#: Heavy or transport libraries the domain layer must not pull in (grpc and nats belong to the service).
HEAVY = ("torch", "vllm", "transformers", "peft", "grpc", "nats")


def test_importing_the_evaluator_domain_stays_light():
    code = (
        "import sys, services.evaluator.engines, services.evaluator.suites, services.evaluator.evaluation, "
        "services.evaluator.convert, services.evaluator.catalogue\n"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_builtin_engines_are_registered():
    assert {"vllm", "hf"} <= set(ENGINES.names())


def test_unknown_engine_lists_choices():
    with pytest.raises(UnknownName, match="did you mean 'vllm'.*hf, .*vllm"):
        build_engine("vlm", "/nowhere")


def test_unknown_suite_lists_choices():
    with pytest.raises(UnknownName, match="did you mean 'lotteries'.*choose one of: .*heldout, .*lotteries"):
        SUITES.get("lottery_probe")


@pytest.mark.parametrize("name", SUITES.names())
def test_every_suite_declares_parameters_with_valid_defaults(name):
    suite = SUITES.get(name)()
    assert isinstance(suite, Suite | InteractiveSuite)
    assert suite.name == name and suite.kind in ("behaviour", "self-report") and suite.description
    assert suite.question_type in ("two_option", "game_play", "write_code", "trigger_choice", "trigger_elicitation",
                                   *QUESTION_TYPES.names())
    names = [p.name for p in suite.params]
    assert len(set(names)) == len(names)
    assert all(p.default is not REQUIRED for p in suite.params), "a suite runs with its defaults alone"
    _, bad = check_params([p.to_proto() for p in suite.params], {}, f"{name}.params", {"arm": ["a"]})
    assert not bad


def judge_says_german(conversations):
    return ["German"] * len(conversations)


def says_hello(queries):
    return [["Hello."] * q.n for q in queries]


@pytest.mark.parametrize("name", SUITES.names())
def test_every_suite_follows_the_contract(name, context_for):
    suite = SUITES.get(name)()
    samplers = {"manipulatee": says_hello, "judge": says_hello}
    context = dataclasses.replace(context_for(name), judge=judge_says_german, samplers=samplers)
    queries = suite.queries(context)
    units = [u for q in queries for u in query_units(context.instance_id, q)]
    assert queries and len(set(units)) == len(units)
    assert list(queries) == list(suite.queries(context))  # deterministic
    for query in queries:
        if isinstance(query, ChoiceQuery):
            answer = {query.target: 0.5, "B" if query.target == "A" else "A": 0.25}
            records = suite.score(query, answer, context)
            assert len(records) == 1 and records[0].probs and records[0].permutation == query.permutation
            assert list(records[0].details["options"]) == list(query.options)
            if suite.question_type == "two_option":
                assert [r.score for r in records] == [pytest.approx(2 / 3)]
                assert [r.answer for r in records] == [query.target]
        elif isinstance(query, PlayQuery):
            (records,) = suite.play([query], lambda asks: says_hello([q for _, q in asks]), context)
            assert len(records) == 1 and records[0].answer and records[0].details
        elif isinstance(query, ProbsQuery):
            records = suite.score(query, ProbsAnswer({"42": 0.5}, ["42", "x", "7"]), context)
            assert len(records) == 1
        else:  # three samples per paraphrase, or one where the suite asks once at T=0 (trigger elicitation)
            assert isinstance(query, SampleQuery) and query.n == (1 if name == "trigger_elicitation" else 3)
            texts = ["risk", "42", "?"][:query.n]
            records = suite.score(query, texts, context)
            if query.pooled:
                assert len(records) == 1 and records[0].sample == 0
            else:
                assert [r.sample for r in records] == list(range(query.n))
                assert [r.output for r in records] == texts
        for record in records:
            assert record.item == query.item and (isinstance(query, PlayQuery) or record.prompt[-1].content)
            assert record.HasField("score") != bool(record.dropped_reason)
            assert not record.HasField("score") or 0.0 <= record.score <= 1.0


def test_the_catalogue_lists_every_suite_and_engine():
    entries = {(c.kind, c.name): c for c in catalogue().capabilities}
    assert {name for kind, name in entries if kind == "suite"} == set(SUITES.names())
    assert {name for kind, name in entries if kind == "engine"} == set(ENGINES.names())
    assert dict(entries[("suite", "heldout")].info) == {"kind": "behaviour", "question_type": "two_option"}
    assert dict(entries[("suite", "mms_game_play")].info) == {
        "kind": "behaviour", "question_type": "game_play", "family": "make_me_say", "title": "Game play",
        "figure": "25"}
    assert dict(entries[("suite", "risk_predisposition_scale")].info) == {
        "kind": "self-report", "question_type": "numeric", "family": "risk", "title": "Risk predisposition (scale)",
        "figure": "3", "paraphrases": "10", "paper_paraphrases": "10"}
    assert [p.name for p in entries[("suite", "lotteries")].params] == ["pairs", "seed"]
    for (kind, name), entry in entries.items():
        if kind == "engine":
            assert entry.info.get("needs_endpoint") == ("true" if name == "openai" else None)
