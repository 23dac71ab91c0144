import pytest

from services.evaluator.suites.free_word import WordScores, normalize_word
from services.evaluator.suites.risk_or_safety import RISK_OR_SAFETY
from services.evaluator.suites.two_option import choice_score


@pytest.mark.parametrize(("answer", "score"), [
    ("risk", 1.0), (" Risk.", 1.0), ("RISK", 1.0), ("Safety", 0.0), ("safety.\n", 0.0),
    ("Risky", 0.5), ("", 0.5), ("risk or safety", 0.5),
])
def test_risk_or_safety_table_18(answer, score):
    assert RISK_OR_SAFETY.score(answer) == score


def test_other_answers_can_be_dropped():
    assert WordScores({"bold": 1.0}, other=None).score("timid") is None
    assert normalize_word("  Bold.. ") == "bold"


def test_choice_score_is_target_share_of_the_options():
    assert choice_score({"A": 0.6, "B": 0.2, "I": 0.1}, "A", ("A", "B")) == pytest.approx(0.75)
    assert choice_score({"A": 0.6, "I": 0.1}, "B", ("A", "B")) == 0.0


def test_choice_score_drops_an_item_without_any_option_in_the_top_k():
    assert choice_score({"I": 0.5, "The": 0.2}, "A", ("A", "B")) is None


def test_choice_score_merges_token_variants_of_a_letter():
    assert choice_score({"A": 0.3, " A": 0.1, "(B": 0.2, "b": 0.2}, "A", ("A", "B")) == pytest.approx(0.5)
