"""Question type: pick one of a few lettered options, scored from the next-token distribution.

Score = P(target) / sum of P(option), from the top-5 next-token probabilities at T=0 (the paper's
`logprob_probs`). Token texts are matched to letters the way the authors post-process multiple-choice answers
(`strip`, uppercase, strip parentheses), summing tokens that map to the same letter. A letter outside the top 5
counts as 0; when every option is outside it, the item is dropped (score None). Probabilities are not
renormalised over the whole vocabulary: only the options' share matters.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._api import Answer, ChoiceQuery, Query, Record, SuiteKind, user_prompt


def option_letter(token: str) -> str:
    """The authors' MC answer post-processing: " a" and "(A" both mean "A"."""
    return token.strip().upper().strip("()")


def choice_score(probs: dict[str, float], target: str, options: Sequence[str]) -> float | None:
    """P(target) over the options' total probability, or None when no option is in the top-k."""
    by_letter: dict[str, float] = {}
    for token, prob in probs.items():
        letter = option_letter(token)
        by_letter[letter] = by_letter.get(letter, 0.0) + prob
    total = sum(by_letter.get(option, 0.0) for option in options)
    return by_letter.get(target, 0.0) / total if total > 0 else None


class TwoOptionSuite:
    """Base of the behaviour suites: subclasses build the ChoiceQueries, scoring is shared."""

    name: str
    kind: SuiteKind = "behaviour"
    description: str

    def score(self, query: Query, answer: Answer) -> list[Record]:
        if not isinstance(query, ChoiceQuery) or not isinstance(answer, dict):
            raise TypeError(f"{self.name} scores next-token probabilities of ChoiceQuery items only")
        return [{
            "suite": self.name,
            "item": query.item,
            "prompt": user_prompt(query.messages),
            "target": query.target,
            "probs": answer,
            "score": choice_score(answer, query.target, query.options),
            **query.details,
        }]
