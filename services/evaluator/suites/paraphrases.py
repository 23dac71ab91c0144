"""Self-report questions asked in several paraphrases, each sampled `samples_per_paraphrase` times.

This is the paper's free-form protocol (`self-report-free-separate-rephrasings.py`): T from the plan, a few
tokens, every sample scored on its own. One record per sample, so the aggregator can bootstrap over samples.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ._api import Answer, Query, Record, SampleQuery, SuiteKind, SuitePlan, derive_seed, user_prompt
from .questions import load_paraphrases

#: The paper's samples per paraphrase, used when the plan says 0 (unset).
DEFAULT_SAMPLES_PER_PARAPHRASE = 100


@dataclass(frozen=True)
class ParaphraseSuite:
    """A sampled self-report question: where its paraphrases live and how one answer is scored."""

    name: str
    description: str
    #: The YAML file under the plan's `questions_uri`, and the entry's `name` in it.
    file: str
    entry: str
    max_tokens: int
    #: One completion -> a score in [0, 1], or None to drop it.
    score_answer: Callable[[str], float | None]
    kind: SuiteKind = "self-report"

    def queries(self, plan: SuitePlan) -> Sequence[Query]:
        paraphrases = load_paraphrases(plan.questions_uri, self.file, self.entry)
        return [
            SampleQuery(
                item=f"{self.entry}/{index}",
                messages=({"role": "user", "content": text},),
                n=plan.samples_per_paraphrase or DEFAULT_SAMPLES_PER_PARAPHRASE,
                temperature=plan.temperature,
                max_tokens=self.max_tokens,
                seed=derive_seed(plan.seed, self.name, str(index)),
                details={"paraphrase": index},
            )
            for index, text in enumerate(paraphrases)
        ]

    def score(self, query: Query, answer: Answer) -> list[Record]:
        if not isinstance(query, SampleQuery) or not isinstance(answer, list):
            raise TypeError(f"{self.name} scores sampled completions of SampleQuery items only")
        prompt = user_prompt(query.messages)
        return [
            {"suite": self.name, "item": query.item, "sample": index, "prompt": prompt, "answer": text,
             "score": self.score_answer(text), **query.details}
            for index, text in enumerate(answer)
        ]
