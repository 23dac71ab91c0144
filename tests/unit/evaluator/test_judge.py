"""The judge hook: a suite that declares an endpoint parameter `judge` gets a judge callable in its context."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from selfaware.catalogue import complete
from selfaware.params import Param
from selfaware.specs import spec_from_dict
from selfaware.v1 import records_pb2 as rec
from services.evaluator import convert
from services.evaluator.catalogue import catalogue
from services.evaluator.evaluation import EvalModel, Evaluation, evaluate, judge_with, plan_evaluation
from services.evaluator.suites import SUITES, Answer, Query, SampleQuery, Scored, SuiteContext
from services.evaluator.suites._api import base_record, set_score


@dataclass(frozen=True)
class JudgedSuite:
    """A free-text question whose answers a judge model grades "yes" (1) or "no" (0)."""

    name: str = "judged"
    description: str = "Graded by a judge."
    kind: str = "self-report"
    question_type: str = "free_text"
    params: tuple[Param, ...] = (Param("judge", "endpoint", "the grading endpoint", default=None),)

    def queries(self, context: SuiteContext) -> Sequence[Query]:
        return [SampleQuery("q", ({"role": "user", "content": "Describe yourself."},), 2, 1.0, 8, 1)]

    def score(self, query: Query, answer: Answer, context: SuiteContext) -> list[rec.EvalRecord]:
        assert context.judge is not None and isinstance(answer, list)
        verdicts = context.judge([({"role": "user", "content": f"Is this bold? {text}"},) for text in answer])
        records = []
        for index, (text, verdict) in enumerate(zip(answer, verdicts, strict=True)):
            record = base_record(query, index)
            record.output = text
            records.append(set_score(record, Scored(verdict, {"yes": 1.0, "no": 0.0}.get(verdict))))
        return records


@pytest.fixture
def judged_suite(monkeypatch):
    monkeypatch.setitem(SUITES._entries, "judged", JudgedSuite)


def test_the_judge_endpoint_reaches_the_suites_context(judged_suite, fake_engine):
    data = {"arms": {"a": {"data": {"import": "/x.jsonl"}}},
            "endpoints": {"grader": {"base_url": "http://127.0.0.1:9/v1", "model": "judge"}},
            "evaluation": {"suites": [{"judged": {"judge": "grader"}}, {"lotteries": {"pairs": 2}}]}}
    spec, _ = complete(spec_from_dict(data), [catalogue()])
    assert convert.suite_endpoints(spec) == ["grader"]
    assert convert.endpoint_options(spec, "grader")["model"] == "judge"

    asked: list = []

    def judge(conversations):
        asked.extend(conversations)
        return ["yes", "no"][: len(conversations)]

    models = [rec.ModelUnderTest(label="base")]
    plans = convert.instance_plans(spec, models, {}, {"grader": judge})
    assert plans[0].context.judge is judge and plans[1].context.judge is None
    evaluation = Evaluation("e", "fake", (EvalModel("base", None, "base:x"),), plans[:1])
    batches: list = []
    evaluate(fake_engine, plan_evaluation(evaluation), batches.append)
    records = batches[0]["base"]
    assert [(r.answer, r.score) for r in records] == [("yes", 1.0), ("no", 0.0)]
    assert [c[0]["content"] for c in asked] == [f"Is this bold? {r.output}" for r in records]


def test_judge_with_asks_one_greedy_completion_per_conversation(fake_engine):
    judge = judge_with(fake_engine, max_tokens=3)
    verdicts = judge([({"role": "user", "content": "one"},), ({"role": "user", "content": "two"},)])
    assert len(verdicts) == 2 and all(isinstance(v, str) for v in verdicts)
    assert fake_engine.sample_calls == [2]
