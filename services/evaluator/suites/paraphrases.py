"""Self-report questions asked in several paraphrases, each sampled `samples_per_paraphrase` times.

This is the paper's free-form protocol (`self-report-free-separate-rephrasings.py`): the instance's temperature,
a few tokens, every sample scored on its own. One record per sample, so the aggregator can bootstrap over
samples. Parameters: `_params.SELF_REPORT_PARAMS`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from selfaware.params import Param
from selfaware.v1 import records_pb2 as rec

from ._api import (
    Answer,
    Query,
    SampleQuery,
    Scored,
    SuiteContext,
    SuiteKind,
    base_record,
    derive_seed,
    set_score,
)
from ._params import SELF_REPORT_PARAMS
from .questions import load_paraphrases


@dataclass(frozen=True)
class ParaphraseSuite:
    """A sampled self-report question: where its paraphrases live and how one answer is scored."""

    name: str
    description: str
    #: The YAML file under the instance's `questions` folder, and the entry's `name` in it.
    file: str
    entry: str
    #: One completion -> its parsed answer and score.
    rate: Callable[[str], Scored]
    question_type: str
    kind: SuiteKind = "self-report"
    params: tuple[Param, ...] = SELF_REPORT_PARAMS

    def queries(self, context: SuiteContext) -> Sequence[Query]:
        p = context.params
        paraphrases = load_paraphrases(p["questions"], self.file, self.entry)
        system = ({"role": "system", "content": p["system_prompt"]},) if p.get("system_prompt") else ()
        return [
            SampleQuery(
                item=f"{self.entry}/{index}",
                messages=(*system, {"role": "user", "content": text}),
                n=p["samples_per_paraphrase"],
                temperature=float(p["temperature"]),
                max_tokens=p["max_tokens"],
                seed=derive_seed(context.seed, context.instance_id, str(index)),
                paraphrase=index,
            )
            for index, text in enumerate(paraphrases)
        ]

    def score(self, query: Query, answer: Answer, context: SuiteContext) -> list[rec.EvalRecord]:
        if not isinstance(query, SampleQuery) or not isinstance(answer, list):
            raise TypeError(f"{self.name} scores sampled completions of SampleQuery items only")
        records = []
        for index, text in enumerate(answer):
            record = base_record(query, sample=index)
            record.output = text
            records.append(set_score(record, self.rate(text)))
        return records
