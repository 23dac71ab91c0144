"""Question type `free_word`: answer in a single word, scored by looking it up in a word list (Tables 18-19, 23,
27).

The word is normalised as the paper does (`strip().strip('.').lower()`) and becomes the record's `answer`, so the
aggregator can show the word distribution (Figure 2, Table 29). Words outside the list score 0.5 (Table 18;
`unknown_words: half`, the default) or are dropped with the reason `UNKNOWN_WORD` (`drop`, as the authors'
plotting code `non_mms_plot.py` does).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from selfaware.v1 import records_pb2 as rec

from .._api import Answer, Query, Scored, SuiteContext
from .._params import SELF_REPORT_PARAMS, UNKNOWN_WORDS
from ._api import Question, question_type
from ._sampled import completions, sample_records, sampled_queries

UNKNOWN_WORD = "not in the word list"
#: A word list's groups and the score of their words.
GROUP_SCORES = {"target": 1.0, "neutral": 0.5, "opposite": 0.0}
#: The score of other words, per `unknown_words` (None drops them).
UNKNOWN_SCORES: dict[str, float | None] = {"half": 0.5, "drop": None}


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
        return Scored(word, score, "" if score is not None else UNKNOWN_WORD)


def word_scores(words: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """{word: score} from groups `target` (1), `neutral` (0.5) and `opposite` (0); a word in two groups, a word
    that is not normalised, or an unknown group is a ValueError (the suite files are code)."""
    unknown = sorted(set(words) - set(GROUP_SCORES))
    if unknown:
        raise ValueError(f"word list groups {unknown}: choose from {', '.join(GROUP_SCORES)}")
    scores: dict[str, float] = {}
    for group, members in words.items():
        for word in members:
            if word != normalize_word(word) or word in scores:
                raise ValueError(f"word {word!r}: listed twice or not normalised")
            scores[word] = GROUP_SCORES[group]
    return scores


@dataclass(frozen=True)
class FreeWord:
    scores: Mapping[str, float]
    name: str = "free_word"
    params = (*SELF_REPORT_PARAMS, UNKNOWN_WORDS)

    def queries(self, question: Question, context: SuiteContext) -> list[Query]:
        return list(sampled_queries(question, context))

    def score(self, query: Query, answer: Answer, context: SuiteContext) -> list[rec.EvalRecord]:
        sampled, texts = completions(query, answer, self.name)
        words = WordScores(self.scores, UNKNOWN_SCORES[context.params.get("unknown_words", "half")])
        return sample_records(sampled, texts, words.rate)


@question_type("free_word")
def free_word(words: Mapping[str, Sequence[str]]) -> FreeWord:
    """`words`: the word list by group (`target`, `neutral`, `opposite`)."""
    return FreeWord(word_scores(words))
