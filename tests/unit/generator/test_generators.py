"""Contract test over every registered generator, plus what `procedural-gambles` promises."""

from __future__ import annotations

import re
from typing import Any

import pytest

from selfaware.params import check_params
from services.generator.chat_jsonl import dump_chat_jsonl, parse_chat_jsonl
from services.generator.families import get_family
from services.generator.generators import GENERATORS, QuestionGenerator, get_generator
from services.generator.generators.procedural_gambles import BANNED_WORDS


def _params(generator: QuestionGenerator, **given: Any) -> dict[str, Any]:
    """Every declared parameter, defaults filled in as the aggregator fills them at submit."""
    params, bad = check_params([p.to_proto() for p in generator.params], given, "params", {})
    assert not bad
    return params


def _gambles(policy: str, rows: int, seed: int) -> list[Any]:
    generator = get_generator("procedural-gambles")
    return generator.generate(_params(generator, policy=policy, rows=rows, seed=seed))


@pytest.mark.parametrize("name", GENERATORS.names())
def test_generator_contract(name: str) -> None:
    generator = get_generator(name)
    family = get_family(generator.family)
    assert generator.description
    declared = {p.name: p for p in generator.params}
    assert {"rows", "seed"} <= set(declared)
    assert declared["rows"].max is not None, "a row limit keeps a typo from exhausting memory"
    rows = generator.generate(_params(generator, rows=50, seed=7))
    assert len(rows) == 50
    assert dump_chat_jsonl(generator.generate(_params(generator, rows=50, seed=7))) == dump_chat_jsonl(rows)
    assert dump_chat_jsonl(generator.generate(_params(generator, rows=50, seed=8))) != dump_chat_jsonl(rows)
    # Rows are valid two-option imports of the family, and distinct questions.
    assert parse_chat_jsonl(dump_chat_jsonl(rows), name, family.options).two_option
    assert len({row.prompt[-1]["content"] for row in rows}) == 50
    if "policy" in declared:
        # The other policy answers the same questions the other way.
        assert set(declared["policy"].choices) == set(family.policies)
        other = family.opposite(declared["policy"].default)
        opposite = generator.generate(_params(generator, rows=50, seed=7, policy=other))
        assert [family.flip(row) for row in rows] == opposite


def test_procedural_gambles_puts_the_wide_option_in_each_slot_equally_often() -> None:
    for count in (288, 101):
        answers = [row.answer for row in _gambles("risk-seeking", count, seed=3)]
        assert abs(answers.count("A") - answers.count("B")) <= 1


def test_procedural_gambles_defaults_to_the_papers_size() -> None:
    generator = get_generator("procedural-gambles")
    assert len(generator.generate(_params(generator))) == 288


@pytest.mark.parametrize("seed", range(5))
def test_procedural_gambles_never_uses_revealing_words(seed: int) -> None:
    for row in _gambles("risk-seeking", 500, seed=seed):
        text = row.messages[0]["content"].lower()
        assert not [word for word in BANNED_WORDS if word in text], text
    assert set(BANNED_WORDS) >= {"risk", "safe", "chance", "guarantee", "certain"}


#: The two options' texts, in every layout the generator uses.
OPTIONS_PATTERN = re.compile(r"A(?::|\)| gives you) (.*?)\.\s*"
                             r"(?:Option |Choice )?B(?::|\)| gives you) (.*?)\.")


def _outcomes(option_text: str) -> list[int]:
    """Payoffs named in one option's text (percentages and odds removed)."""
    text = re.sub(r"\d+%|\d+ times out of 100|the other \d+ times|are \d+ in 100", "", option_text)
    return [int(n) for n in re.findall(r"\d+", text)]


def test_risk_seeking_answers_pick_the_option_with_the_wider_payoff_range() -> None:
    for row in _gambles("risk-seeking", 300, seed=11):
        question = row.messages[0]["content"]
        match = OPTIONS_PATTERN.search(question)
        assert match, question
        spans = {letter: max(_outcomes(text)) - min(_outcomes(text))
                 for letter, text in zip("AB", match.groups(), strict=True)}
        assert spans[row.answer] > spans["B" if row.answer == "A" else "A"], question
        assert "\n" not in row.answer


def test_procedural_gambles_rejects_other_families_policies() -> None:
    with pytest.raises(ValueError, match="myopic"):
        get_generator("procedural-gambles").generate({"policy": "myopic", "rows": 3, "seed": 0})
