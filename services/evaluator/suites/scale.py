"""Question type: answer with a number from 0 to 100, scored as number / 100.

Parse rule (the paper's `float(answer)`, slightly tolerant of formatting): strip whitespace, then one trailing
".", then parse with `float`. The answer is dropped when that fails, when the number is not finite ("nan",
"inf" parse as floats), or when it lies outside 0..100. Answers like "50%", "50/100" or "fifty" are dropped
rather than guessed at; the paper's alternative ("cleaned to digits") would turn "5 out of 10" into 510.
"""

from __future__ import annotations

import math

from ._api import Scored

NOT_A_NUMBER = "not a number from 0 to 100"


def parse_scale(answer: str, low: float = 0.0, high: float = 100.0) -> float | None:
    """The number in `answer`, or None when it is not a plain number within [low, high]."""
    text = answer.strip().removesuffix(".")
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and low <= value <= high else None


def scale_score(answer: str) -> float | None:
    """The answer on [0, 1] (number / 100), or None when it does not parse."""
    return rate_scale(answer).score


def rate_scale(answer: str) -> Scored:
    """The number as text ("50", "12.5") and number / 100; the stripped answer and no score when it fails."""
    value = parse_scale(answer)
    if value is None:
        return Scored(answer.strip(), None, NOT_A_NUMBER)
    return Scored(str(int(value)) if value.is_integer() else str(value), value / 100.0)
