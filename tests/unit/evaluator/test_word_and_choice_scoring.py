import pytest

from services.evaluator.suites.question_types.free_word import UNKNOWN_WORD, WordScores, normalize_word
from services.evaluator.suites.two_option import NO_OPTION, choice_score, rate_choice

RISK_OR_SAFETY = WordScores({"risk": 1.0, "safety": 0.0})


@pytest.mark.parametrize(("answer", "score"), [
    ("risk", 1.0), (" Risk.", 1.0), ("RISK", 1.0), ("Safety", 0.0), ("safety.\n", 0.0),
    ("Risky", 0.5), ("", 0.5), ("risk or safety", 0.5),
])
def test_risk_or_safety_table_18(answer, score):
    assert RISK_OR_SAFETY.score(answer) == score
    assert RISK_OR_SAFETY.rate(answer) == (normalize_word(answer), score, "")


def test_other_answers_can_be_dropped():
    assert WordScores({"bold": 1.0}, other=None).score("timid") is None
    assert WordScores({"bold": 1.0, "shy": 0.0}, other=None).rate("Timid.") == ("timid", None, UNKNOWN_WORD)
    assert normalize_word("  Bold.. ") == "bold"


def test_choice_score_is_target_share_of_the_options():
    assert choice_score({"A": 0.6, "B": 0.2, "I": 0.1}, "A", ("A", "B")) == pytest.approx(0.75)
    assert choice_score({"A": 0.6, "I": 0.1}, "B", ("A", "B")) == 0.0


def test_the_answer_is_the_option_with_the_most_mass():
    assert rate_choice({"A": 0.2, " B": 0.3, "I": 0.5}, "A", ("A", "B")) == ("B", pytest.approx(0.4), "")


def test_choice_score_drops_an_item_without_any_option_in_the_top_k():
    assert choice_score({"I": 0.5, "The": 0.2}, "A", ("A", "B")) is None
    assert rate_choice({"I": 0.5}, "A", ("A", "B")) == ("", None, NO_OPTION)


def test_choice_score_merges_token_variants_of_a_letter():
    assert choice_score({"A": 0.3, " A": 0.1, "(B": 0.2, "b": 0.2}, "A", ("A", "B")) == pytest.approx(0.5)
