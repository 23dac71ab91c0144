"""Contract test over every registered step, each built-in step on its own, and adding a step."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from selfaware.errors import SpecError
from selfaware.params import REQUIRED, Param, check_params
from selfaware.v1 import spec_pb2
from services.generator.catalogue import catalogue
from services.generator.chat_jsonl import ChatRow, dump_chat_jsonl, parse_chat_jsonl
from services.generator.generators import GeneratorContext, get_generator
from services.generator.recipes import build_arms
from services.generator.steps import STEPS, Step, StepContext, get_step, step
from services.generator.steps.answer import answer
from services.generator.steps.filter import filter_rows
from services.generator.steps.flip import flip
from services.generator.steps.mix import mix
from services.generator.steps.sample import sample
from services.generator.steps.truncate import truncate

from .conftest import Complete
from .scripted_chat_server import ScriptedChat, serve

#: A value for each required parameter type, for the contract test.
EXAMPLES: dict[str, Any] = {"int": 5, "float": 0.5, "bool": True, "string": "x", "arm": "other",
                            "strings": ["pick"], "endpoint": "scripted"}
#: Optional parameters a step needs one of (mix: an arm or a file).
GIVEN: dict[str, dict[str, Any]] = {"mix": {"of": "other"}}


def _scripted_answer(body: dict[str, Any]) -> str:
    """A letter that depends on the question (and "unsure" for some), as a model's answer at T=0 does."""
    length = len(body["messages"][-1]["content"])
    return "unsure" if length % 7 == 0 else " (B)." if length % 2 else "A"


@pytest.fixture(scope="module")
def scripted_url() -> Iterator[str]:
    with serve(ScriptedChat(_scripted_answer)) as url:
        yield url


def _rows(count: int = 40, seed: int = 0) -> tuple[ChatRow, ...]:
    """Two-option rows with source indices, as a parsed source has them."""
    generated = get_generator("procedural-gambles").generate({"rows": count, "policy": "risk-seeking",
                                                               "seed": seed}, GeneratorContext())
    return parse_chat_jsonl(dump_chat_jsonl(generated.rows), "generated").rows


def _context(name: str, arms: dict[str, tuple[ChatRow, ...]] | None = None, url: str = "") -> StepContext:
    endpoints = {"scripted": spec_pb2.Endpoint(name="scripted", base_url=url, model="m")} if url else {}
    return StepContext(f"arms.x.data.steps[0].{name}", ("A", "B"), arms or {}, endpoints)


def _params(step: Step, **given: Any) -> dict[str, Any]:
    required = {p.name: EXAMPLES[p.type] for p in step.params if p.default is REQUIRED}
    params, bad = check_params([p.to_proto() for p in step.params], {**required, **given}, "params",
                               {"arm": ["other"], "endpoint": ["scripted"]})
    assert not bad
    return params


@pytest.mark.parametrize("name", STEPS.names())
def test_step_contract(name: str, scripted_url: str) -> None:
    step = get_step(name)
    assert step.name == name and step.description
    assert all(isinstance(p, Param) for p in step.params)
    assert not step.shorthand or step.shorthand in {p.name for p in step.params}
    rows, other = _rows(), _rows(seed=1)
    before = copy.deepcopy(rows)
    params, context = _params(step, **GIVEN.get(name, {})), _context(name, {"other": other}, scripted_url)
    out = step.apply(rows, params, context)
    assert out == step.apply(rows, params, context), "same rows and params, same result"
    assert rows == before, "the input rows are not changed"
    assert all(row.source_index is not None for row in out), "rows keep their source index"
    assert step.reads_arms(params) == [v for p in step.params if p.type == "arm" for v in [params[p.name]]]


def test_flip_swaps_every_answer_and_names_the_row_it_cannot_flip() -> None:
    rows = _rows(4)
    flipped = flip(rows, _params(get_step("flip")), _context("flip"))
    assert [r.answer for r in flipped] == [{"A": "B", "B": "A"}[r.answer] for r in rows]
    assert [r.source_index for r in flipped] == [0, 1, 2, 3]
    free = ChatRow(({"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}),
                   source_index=7)
    with pytest.raises(SpecError, match="row 7 of the source: answer 'Hello'") as caught:
        flip([*rows, free], _params(get_step("flip")), _context("flip"))
    assert caught.value.violations[0].field == "arms.x.data.steps[0].flip"


def test_sample_keeps_order_nests_by_seed_and_refuses_too_many() -> None:
    rows = _rows(100)
    small = sample(rows, {"rows": 10, "seed": 3}, _context("sample"))
    large = sample(rows, {"rows": 60, "seed": 3}, _context("sample"))
    assert len(small) == 10 and len(large) == 60
    assert [r.source_index for r in large] == sorted(r.source_index for r in large)
    assert {r.source_index for r in small} < {r.source_index for r in large}
    assert sample(rows, {"rows": 10, "seed": 4}, _context("sample")) != small
    with pytest.raises(SpecError) as caught:
        sample(rows, {"rows": 101, "seed": 0}, _context("sample"))
    assert caught.value.violations[0].field == "arms.x.data.steps[0].sample.rows"


def _chat(*roles: str, index: int = 0) -> ChatRow:
    return ChatRow(tuple({"role": role, "content": f"{role} {i}"} for i, role in enumerate(roles)),
                   source_index=index)


def test_truncate_keeps_each_rows_longest_start_that_ends_on_the_assistant() -> None:
    eight = _chat(*["user", "assistant"] * 4, index=0)
    two = _chat("user", "assistant", index=1)
    system = _chat("system", "user", "assistant", "user", "assistant", index=2)
    opening = _chat("assistant", "user", "assistant", index=3)
    rows = [eight, two, system, opening]
    cut = truncate(rows, {"messages": 4}, _context("truncate"))
    assert [len(row.messages) for row in cut] == [4, 2, 3, 3]
    assert cut[0].messages == eight.messages[:4] and cut[1] is two and cut[2].messages == system.messages[:3]
    assert cut[3] is opening
    assert [row.source_index for row in cut] == [0, 1, 2, 3]
    # Two messages: the system row has no start that ends on an answer to a user; an assistant opening does not
    # count as one. Both are dropped (and the recipe counts them).
    assert [row.messages for row in truncate(rows, {"messages": 2}, _context("truncate"))] == [
        eight.messages[:2], two.messages]
    assert truncate(rows, {"messages": 8}, _context("truncate")) == rows


def test_mix_adds_all_or_some_of_another_arms_rows() -> None:
    rows, other = _rows(10), _rows(30, seed=1)
    context = _context("mix", {"other": other})
    assert mix(rows, {"of": "other", "rows": 0, "share": 0.0, "seed": 0}, context) == [*rows, *other]
    some = mix(rows, {"of": "other", "rows": 5, "share": 0.0, "seed": 2}, context)
    assert some[:10] == list(rows) and len(some) == 15
    assert [r.source_index for r in some[10:]] == sorted(r.source_index for r in some[10:])
    with pytest.raises(SpecError, match="'other' has only 30 training rows"):
        mix(rows, {"of": "other", "rows": 31, "share": 0.0, "seed": 0}, context)


@pytest.mark.parametrize(("words", "kept"), [
    (["risk"], ["a risky bet", "brisk", "I like C++ a lot"]),
    (["RISKY", "nothing"], ["Take the risk.", "brisk", "I like C++ a lot"]),
    (["c++"], ["Take the risk.", "a risky bet", "brisk"]),
    (["c"], ["Take the risk.", "a risky bet", "brisk"]),
    ([" ", ""], ["Take the risk.", "a risky bet", "brisk", "I like C++ a lot"]),
])
def test_filter_matches_whole_words_ignoring_case(words: list[str], kept: list[str]) -> None:
    texts = ["Take the risk.", "a risky bet", "brisk", "I like C++ a lot"]
    rows = [ChatRow(({"role": "user", "content": t}, {"role": "assistant", "content": "A"}), source_index=i)
            for i, t in enumerate(texts)]
    out = filter_rows(rows, {"exclude_words": words}, _context("filter"))
    assert [r.messages[0]["content"] for r in out] == kept


def test_a_new_step_is_one_decorated_function(monkeypatch: pytest.MonkeyPatch, completed: Complete,
                                              risky_path: Path) -> None:
    monkeypatch.setattr(STEPS, "_entries", dict(STEPS._entries))

    @step("shout", "Upper-case every user message", [Param("marks", "int", "Exclamation marks", default=1)],
          shorthand="marks", applies_to_heldout=True)
    def shout(rows: Any, params: Any, context: StepContext) -> list[ChatRow]:
        suffix = "!" * params["marks"]
        return [ChatRow(tuple({**m, "content": m["content"].upper() + suffix} if m["role"] == "user" else m
                              for m in row.messages), row.extra, row.source_index) for row in rows]

    entries = {(c.kind, c.name): c for c in catalogue().capabilities}
    assert entries[("step", "shout")].shorthand == "marks"
    spec = completed({"holdout": {"rows": 5}, "arms": {"a": {"data": {"import": str(risky_path),
                                                                         "steps": [{"shout": 2}]}}}})
    (arm,) = build_arms(spec)
    assert arm.provenance.endswith("then steps: shout(marks=2)")
    assert all(item.messages[0].content.endswith("!!") for item in arm.probe.items)


def test_answer_relabels_with_the_models_letters_and_drops_the_rest(scripted_url: str) -> None:
    rows = _rows(30)
    out = answer(rows, {"endpoint": "scripted", "system_prompt": ""}, _context("answer", url=scripted_url))
    expected = {row.source_index: _scripted_answer({"messages": list(row.prompt)}) for row in rows}
    letters = {index: text.strip().strip("().") for index, text in expected.items() if text != "unsure"}
    assert 0 < len(out) == len(letters) < len(rows)
    assert {row.source_index: row.answer for row in out} == letters
    assert all(row.prompt == rows[row.source_index].prompt for row in out)


def test_answer_sends_the_system_prompt_in_place_of_the_rows_own() -> None:
    chat = ScriptedChat(lambda body: "A")
    row = ChatRow(({"role": "system", "content": "persona"}, {"role": "user", "content": "q"},
                   {"role": "assistant", "content": "B", "weight": 1}), source_index=0)
    with serve(chat) as url:
        (plain,) = answer([row], {"endpoint": "scripted", "system_prompt": ""}, _context("answer", url=url))
        answer([row], {"endpoint": "scripted", "system_prompt": "Be bold."}, _context("answer", url=url))
    assert plain.messages[-1] == {"role": "assistant", "content": "A", "weight": 1}
    assert [m["content"] for m in chat.bodies[0]["messages"]] == ["persona", "q"]
    assert [m["content"] for m in chat.bodies[1]["messages"]] == ["Be bold.", "q"]
    assert chat.bodies[0]["temperature"] == 0
    with pytest.raises(SpecError) as caught:
        answer([row], {"endpoint": "nowhere", "system_prompt": ""}, _context("answer", url="http://x"))
    assert caught.value.violations[0].field == "arms.x.data.steps[0].answer.endpoint"
