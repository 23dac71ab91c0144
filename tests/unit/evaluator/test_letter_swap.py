"""Counterbalanced held-out items: option letters swapped in the text, articles untouched, target flipped."""

import json
import re

import pytest

from services.evaluator.suites import SUITES
from services.evaluator.suites.two_option import swap_option_letters
from tests.unit.evaluator.conftest import PROBE_ARM

#: A standalone capital A or B (not inside a word).
STANDALONE = re.compile(r"(?<!\w)[AB](?!\w)")


@pytest.fixture(scope="module")
def risky_rows(risky_dataset):
    return [json.loads(line)["messages"] for line in risky_dataset.read_text().splitlines()]


def _article_positions(text: str) -> set[int]:
    """Where an English article "A" stands, by the rule: after the start, a sentence end plus whitespace or a
    newline, and before whitespace and a lowercase letter, a digit or "$"."""
    return {m.start() for m in re.finditer(r"(?:(?<=^)|(?<=[.!?:]\s)|(?<=\n))A(?=\s+[a-z0-9$])", text)}


def test_articles_stay_and_every_label_swaps_on_the_authors_rows(risky_rows):
    articles = 0
    for messages in risky_rows:
        text = messages[0]["content"]
        swapped = swap_option_letters(text)
        assert len(swapped) == len(text)
        kept = _article_positions(text)
        articles += len(kept)
        for match in STANDALONE.finditer(text):
            at = match.start()
            if at in kept:
                assert swapped[at] == "A", f"article swapped in {text!r}"
            else:
                assert swapped[at] == {"A": "B", "B": "A"}[text[at]], f"label kept in {text!r}"
        outside = [i for i in range(len(text)) if not STANDALONE.match(text, i)]
        assert all(swapped[i] == text[i] for i in outside)
        assert swap_option_letters(swapped) == text
    assert articles > 20  # the rows do open sentences with "A ..."


@pytest.mark.parametrize(("text", "want"), [
    ("A sure $50 (A) or a coin flip (B)? Answer A or B.", "A sure $50 (B) or a coin flip (A)? Answer B or A."),
    ("Options: A) 5 apples\nB) 7 apples", "Options: B) 5 apples\nA) 7 apples"),
    ("Choose. A 10% chance or B.", "Choose. A 10% chance or A."),
    ("Pick 'A' or 'B'. A's payoff is higher.", "Pick 'B' or 'A'. B's payoff is higher."),
    ("Alice got AB blood, A or B?", "Alice got AB blood, B or A?"),
    ("A: yes. B: no.", "B: yes. A: no."),
])
def test_swap_examples(text, want):
    assert swap_option_letters(text) == want


def test_heldout_asks_each_item_in_both_orders_with_the_target_flipped(context_for, risky_rows):
    suite = SUITES.get("heldout")()
    queries = suite.queries(context_for("heldout"))
    assert [(q.item, q.permutation, q.target) for q in queries] == [
        ("risk-seeking/0", 0, "B"), ("risk-seeking/0", 1, "A"), ("risk-seeking/1", 0, "B"), ("risk-seeking/1", 1, "A")]
    written, swapped = queries[0].messages[-1]["content"], queries[1].messages[-1]["content"]
    assert written.startswith("A coin decides. Option A:") and swapped.startswith("A coin decides. Option B:")
    assert queries[0].details == {"probe_arm": "risk-seeking"}

    probs = {"A": 0.2, "B": 0.6}  # a model that answers B whatever the content
    scores = [suite.score(q, probs, context_for("heldout"))[0].score for q in queries[:2]]
    assert scores == [pytest.approx(0.75), pytest.approx(0.25)]  # the letter bias cancels over both orders


def test_heldout_one_order_and_named_arm(context_for):
    suite = SUITES.get("heldout")()
    assert [q.permutation for q in suite.queries(context_for("heldout", both_orders=False))] == [0, 0]
    from selfaware.errors import DataError

    with pytest.raises(DataError, match="'other' has no two-option held-out rows"):
        suite.queries(context_for("heldout", arm="other"))


def test_heldout_skips_free_text_items(context_for):
    """A free-text item (a held-out coding task, no options) is not asked; an arm with only those is refused."""
    import dataclasses

    from selfaware.errors import DataError
    from selfaware.v1 import records_pb2 as rec

    suite = SUITES.get("heldout")()
    context = context_for("heldout", both_orders=False)
    task = rec.ProbeItem(id="00001-task", messages=[rec.ChatMessage(role="user", content="Write code")],
                         target="print(1)", fields={"task": "t", "code_template": "c"})
    probe = rec.ProbeSet()
    probe.CopyFrom(context.probes[PROBE_ARM])
    probe.items.append(task)
    mixed = dataclasses.replace(context, probes={PROBE_ARM: probe})
    assert [q.item for q in suite.queries(mixed)] == [item.id for item in probe.items[:-1]]
    only_tasks = dataclasses.replace(context, probes={"code": rec.ProbeSet(arm="code", items=[task])})
    with pytest.raises(DataError, match="no arm has two-option held-out rows"):
        suite.queries(only_tasks)
