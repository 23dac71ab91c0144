"""Contract test over every registered generator, plus what `procedural-gambles` promises."""

from __future__ import annotations

import re
from typing import Any

import pytest

from selfaware.errors import SpecError
from selfaware.params import check_params
from services.generator.chat_jsonl import ChatRow, dump_chat_jsonl, parse_chat_jsonl
from services.generator.families import FAMILIES, get_family
from services.generator.generators import GENERATORS, GeneratorContext, QuestionGenerator, get_generator
from services.generator.generators.procedural_gambles import BANNED_WORDS

#: Generators that call no model: the contract runs them.
OFFLINE = [name for name in GENERATORS.names()
           if not any(p.type == "endpoint" for p in get_generator(name).params)]


def _params(generator: QuestionGenerator, **given: Any) -> dict[str, Any]:
    """Every declared parameter, defaults filled in as the aggregator fills them at submit."""
    params, bad = check_params([p.to_proto() for p in generator.params], given, "params", {})
    assert not bad
    return params


def generate(name: str, **given: Any) -> list[ChatRow]:
    generator = get_generator(name)
    return list(generator.generate(_params(generator, **given), GeneratorContext()).rows)


def _gambles(policy: str, rows: int, seed: int) -> list[ChatRow]:
    return generate("procedural-gambles", policy=policy, rows=rows, seed=seed)


@pytest.mark.parametrize("name", GENERATORS.names())
def test_generator_declarations(name: str) -> None:
    generator = get_generator(name)
    assert generator.description and generator.families
    assert set(generator.families) <= set(FAMILIES.names())
    declared = {p.name: p for p in generator.params}
    assert "seed" in declared
    assert ("family" in declared) == (len(generator.families) > 1)
    if "family" in declared:
        assert set(declared["family"].choices) == set(generator.families)
    policies = {policy for family in generator.families for policy in get_family(family).policies}
    if policies:  # Make Me Say has none: its games' codeword is a parameter, its size `games`
        assert "rows" in declared and declared["rows"].max is not None, "a row limit keeps a typo from exhausting memory"
        assert set(declared["policy"].choices) == policies
    else:
        assert all(p.max is not None for p in generator.params if p.type == "int" and p.name != "seed"), \
            "a limit on every count keeps a typo from exhausting memory"


@pytest.mark.parametrize("name", OFFLINE)
def test_offline_generator_contract(name: str) -> None:
    generator = get_generator(name)
    (family_name,) = generator.families
    family = get_family(family_name)
    given = {"rows": 50, "seed": 7, "policy": family.policies[0]}
    generation = generator.generate(_params(generator, **given), GeneratorContext())
    rows = generation.rows
    assert len(rows) == 50 and generation.family == family_name
    assert dump_chat_jsonl(generate(name, **given)) == dump_chat_jsonl(rows)
    assert dump_chat_jsonl(generate(name, rows=50, seed=8)) != dump_chat_jsonl(rows)
    # Rows are valid two-option imports of the family, and distinct questions.
    assert parse_chat_jsonl(dump_chat_jsonl(rows), name, family.options).two_option
    assert len({row.prompt[-1]["content"] for row in rows}) == 50
    # The first policy's option sits in each slot equally often, and the other policy answers the other way.
    answers = [row.answer for row in generate(name, rows=101, seed=3, policy=family.policies[0])]
    assert abs(answers.count("A") - answers.count("B")) == 1
    opposite = generate(name, rows=50, seed=7, policy=family.policies[1])
    assert [family.flip(row) for row in rows] == opposite
    with pytest.raises(SpecError) as caught:
        generator.generate({**_params(generator), "policy": "risky"}, GeneratorContext("arms.g.data.params"))
    assert caught.value.violations[0].field == "arms.g.data.params.policy"


def test_procedural_gambles_defaults_to_the_papers_size() -> None:
    assert len(generate("procedural-gambles")) == 288


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
