"""Question type: answer with a number from 0 to 100, scored as number / 100.

Parse rule (the paper's `float(answer)`, slightly tolerant of formatting): strip whitespace, then one trailing
".", then parse with `float`. The answer is dropped (None) when that fails, when the number is not finite
("nan", "inf" parse as floats), or when it lies outside 0..100. Answers like "50%", "50/100" or "fifty" are
dropped rather than guessed at; the paper's alternative ("cleaned to digits") would turn "5 out of 10" into 510.
"""

from __future__ import annotations

import math


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
    value = parse_scale(answer)
    return None if value is None else value / 100.0
