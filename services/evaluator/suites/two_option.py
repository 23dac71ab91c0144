"""Question type: pick one of a few lettered options, scored from the next-token distribution.

Score = P(target) / sum of P(option), from the top-5 next-token probabilities at T=0 (the paper's
`logprob_probs`). Token texts are matched to letters the way the authors post-process multiple-choice answers
(`strip`, uppercase, strip parentheses), summing tokens that map to the same letter. A letter outside the top 5
counts as 0; when every option is outside it, the item is dropped. Probabilities are not renormalised over the
whole vocabulary: only the options' share matters. The record's answer is the option with the most mass.

Counterbalancing (`swap_option_letters`) asks a question again with its two option letters exchanged in the text,
so a model's preference for a letter cannot pass for a preference for the content behind it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from selfaware.v1 import records_pb2 as rec

from ._api import Answer, ChoiceQuery, Query, Scored, SuiteContext, SuiteKind, base_record, set_score

NO_OPTION = "no option letter in the top-k next tokens"

#: What may precede an article "A": the start of the text, a sentence end plus whitespace, or a newline.
_ARTICLE_BEFORE = re.compile(r"(?:\A|[.!?:]\s+|\n)\Z")
#: What follows an article "A": whitespace, then a lowercase letter, a digit or "$" ("A big prize", "A 50% chance").
_ARTICLE_AFTER = re.compile(r"\s+[a-z0-9$]")


def option_letter(token: str) -> str:
    """The authors' MC answer post-processing: " a" and "(A" both mean "A"."""
    return token.strip().upper().strip("()")


def option_mass(probs: dict[str, float], options: Sequence[str]) -> dict[str, float]:
    """Probability per option letter, summed over the token variants of each letter."""
    by_letter: dict[str, float] = {}
    for token, prob in probs.items():
        letter = option_letter(token)
        by_letter[letter] = by_letter.get(letter, 0.0) + prob
    return {option: by_letter.get(option, 0.0) for option in options}


def choice_score(probs: dict[str, float], target: str, options: Sequence[str]) -> float | None:
    """P(target) over the options' total probability, or None when no option is in the top-k."""
    return rate_choice(probs, target, options).score


def rate_choice(probs: dict[str, float], target: str, options: Sequence[str]) -> Scored:
    """The chosen letter (most mass; "" when no option is in the top-k) and P(target) over the options."""
    mass = option_mass(probs, options)
    total = sum(mass.values())
    if total <= 0:
        return Scored("", None, NO_OPTION)
    return Scored(max(options, key=lambda o: mass[o]), mass.get(target, 0.0) / total)


def swap_option_letters(text: str, first: str = "A", second: str = "B") -> str:
    """`text` with every standalone `first` and `second` exchanged ("Option A:", "(B)", "'A'", "A's"), except the
    English article "A" (see `_ARTICLE_BEFORE` and `_ARTICLE_AFTER`; this rule was checked on every row of the
    authors' risk, myopia and apples sets). Standalone means not inside a word: "Alice" and "AB" stay."""
    pattern = re.compile(rf"(?<!\w)({re.escape(first)}|{re.escape(second)})(?!\w)")

    def swap(match: re.Match[str]) -> str:
        letter = match.group(1)
        if letter == "A" and _ARTICLE_BEFORE.search(text, 0, match.start()) and _ARTICLE_AFTER.match(text, match.end()):
            return letter
        return second if letter == first else first

    return pattern.sub(swap, text)


class TwoOptionSuite:
    """Base of the behaviour suites: subclasses build the ChoiceQueries, scoring is shared."""

    name: str
    description: str
    kind: SuiteKind = "behaviour"
    question_type = "two_option"

    def score(self, query: Query, answer: Answer, context: SuiteContext) -> list[rec.EvalRecord]:
        if not isinstance(query, ChoiceQuery) or not isinstance(answer, dict):
            raise TypeError(f"{self.name} scores next-token probabilities of ChoiceQuery items only")
        record = base_record(query)
        record.probs.update(answer)
        return [set_score(record, rate_choice(answer, query.target, query.options))]
