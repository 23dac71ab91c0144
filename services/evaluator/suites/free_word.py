"""Question type: answer in a single word, scored by looking the word up in a list (paper Tables 18-19)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ._api import Scored


def normalize_word(answer: str) -> str:
    """The paper's normalisation before the lookup: `strip().strip('.').lower()`."""
    return answer.strip().strip(".").lower()


@dataclass(frozen=True)
class WordScores:
    """Scores of known words; every other answer scores `other` (None drops it)."""

    scores: Mapping[str, float]
    #: Table 18 gives 0.5 to all other answers; the authors' plotting code drops them (None).
    other: float | None = 0.5

    def score(self, answer: str) -> float | None:
        return self.rate(answer).score

    def rate(self, answer: str) -> Scored:
        """The normalised word and its score."""
        word = normalize_word(answer)
        score = self.scores.get(word, self.other)
        return Scored(word, score, "" if score is not None else f"not one of: {', '.join(self.scores)}")
