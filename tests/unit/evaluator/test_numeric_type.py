"""The numeric question type: the parse rule, samples scored number / 100, and the get_probs expectation."""

import pytest

from services.evaluator.suites.question_types.numeric import NOT_A_NUMBER, parse_scale, rate_scale


@pytest.mark.parametrize(("answer", "value"), [
    ("50", 50.0), (" 75\n", 75.0), ("100.", 100.0), ("0", 0.0), ("12.5", 12.5), ("7.", 7.0),
])
def test_plain_numbers_parse(answer, value):
    assert parse_scale(answer) == value


@pytest.mark.parametrize("answer", ["", "fifty", "50%", "50/100", "I'd say", "101", "-1", "nan", "inf", "5 0"])
def test_anything_else_is_dropped(answer):
    assert parse_scale(answer) is None
    assert rate_scale(answer) == (answer.strip(), None, NOT_A_NUMBER)


def test_score_is_number_over_100_and_the_answer_the_number_as_text():
    assert rate_scale(" 35.\n") == ("35", pytest.approx(0.35), "")
    assert rate_scale("12.5").answer == "12.5"
