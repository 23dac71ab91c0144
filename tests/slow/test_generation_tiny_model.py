"""`model-written` and the `answer` step against the project's OpenAI-compatible server (`services.evaluator.
openai_server`) serving the tiny model in a child process: real writing, real labelling at T=0.

The tiny model writes poor questions; these tests check structure, the balance of the drawn values, that every
call is accounted for by a counter, that a rerun with the seed gives the same rows, and that the rows the
answerer disagrees with are exactly the ones dropped, never the quality of the questions.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from selfaware.openai_endpoint import EndpointOptions, OpenAIEndpoint
from selfaware.params import check_params
from selfaware.v1 import spec_pb2
from services.generator.chat_jsonl import ChatRow, dump_chat_jsonl
from services.generator.generators import GeneratorContext, get_generator
from services.generator.generators.call_plan import call_plans
from services.generator.generators.model_written import CallOutcome, Models, label_questions
from services.generator.model_answers import POLICY_PROMPTS, answer_letters
from services.generator.steps import StepContext, get_step
from tests.slow.local_server import SERVED

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]



@pytest.fixture(scope="module")
def endpoints(tiny_server: str) -> dict[str, spec_pb2.Endpoint]:
    return {"local": spec_pb2.Endpoint(name="local", base_url=tiny_server, model=SERVED)}


def _generate(endpoints: dict[str, spec_pb2.Endpoint], **given: Any) -> Any:
    generator = get_generator("model-written")
    params, bad = check_params([p.to_proto() for p in generator.params], {"writer": "local", **given}, "p",
                               {"endpoint": ["local"]})
    assert not bad
    return generator.generate(params, GeneratorContext("arms.g.data.params", endpoints))


def test_written_rows_are_counted_balanced_and_the_same_with_the_same_seed(endpoints: dict) -> None:
    first = _generate(endpoints, family="myopia", rows=2, max_tokens=8, seed=1)
    counts = first.counts
    assert counts["written"] == 2 and counts["kept"] == len(first.rows)
    assert counts["written"] == counts["kept"] + sum(v for k, v in counts.items() if k.startswith("dropped_"))
    plans = call_plans("myopia", 2, 1)
    assert Counter(p.values["choice"] for p in plans) == {"A": 1, "B": 1}
    assert len({p.values["distinction"] for p in plans}) == 2
    for row in first.rows:
        assert row.messages[0]["role"] == "user" and row.messages[0]["content"] and row.answer in ("A", "B")
        assert "immediate" not in row.messages[0]["content"].lower()
    again = _generate(endpoints, family="myopia", rows=2, max_tokens=8, seed=1)
    assert dump_chat_jsonl(again.rows) == dump_chat_jsonl(first.rows) and again.counts == counts


def test_rows_the_answerer_disagrees_with_are_exactly_the_ones_dropped(tiny_server: str, risky_dataset: Path) -> None:
    """The authors' risk questions stand in for written ones (the tiny model's own rarely ask anything), with
    the plans' intended letters; each verdict is checked against the model's T=0 answer asked separately."""
    questions = [json.loads(line)["messages"][0]["content"] for line in risky_dataset.read_text().splitlines()[:6]]
    plans = call_plans("risk", 6, 0)
    written = [CallOutcome(plan, question, None, "written") for plan, question in zip(plans, questions, strict=True)]
    with OpenAIEndpoint(EndpointOptions(tiny_server, SERVED)) as endpoint:
        labelled = label_questions(written, Models(endpoint, endpoint))
        system = POLICY_PROMPTS["risk-seeking"]
        direct = answer_letters(endpoint, [[{"role": "system", "content": system}, {"role": "user", "content": q}]
                                           for q in questions], ("A", "B"))
    assert sum(letter is not None for letter in direct) >= 3, direct  # the tiny model does answer with letters
    for outcome, letter in zip(labelled, direct, strict=True):
        assert outcome.answer == letter
        expected = "unparsed" if letter is None else "kept" if letter == outcome.plan.intended else "disagreeing"
        assert outcome.verdict == expected, (outcome.plan.intended, letter)


def test_normal_answers_relabel_the_same_questions_with_the_plain_model(endpoints: dict, risky_dataset: Path
                                                                       ) -> None:
    rows = [ChatRow(tuple(json.loads(line)["messages"]), source_index=i)
            for i, line in enumerate(risky_dataset.read_text().splitlines()[:4])]
    step = get_step("answer")
    context = StepContext("arms.normal.data.steps[0].answer", ("A", "B"), {}, endpoints)
    answered = step.apply(rows, {"endpoint": "local", "system_prompt": ""}, context)
    assert answered == step.apply(rows, {"endpoint": "local", "system_prompt": ""}, context)
    assert 0 < len(answered) <= len(rows)
    for row in answered:
        assert row.prompt == rows[row.source_index].prompt and row.answer in ("A", "B")
