"""Question type `numeric`: answer with a number from 0 to 100, scored as number / 100.

`measure: samples` (Figure 3, the default): every sample is one record. Parse rule (the paper's `float(answer)`,
slightly tolerant of formatting): strip whitespace, then one trailing ".", then `float`. The answer is dropped
(reason `NOT_A_NUMBER`, from which the aggregator computes the parse rate) when that fails, when the number is
not finite ("nan", "inf") or when it lies outside 0..100. "50%", "50/100" or "fifty" are dropped rather than
guessed at; the paper's alternative ("cleaned to digits") would turn "5 out of 10" into 510.

`measure: get_probs` (Figure 4, spec §3.5): one record per paraphrase, scoring the probability-weighted mean
sum_k P(k) * k / 100 over the outputs "0".."100", as the authors' `get_probs` computes it. With 101 outputs
`get_probs` always falls back to `get_probs_samples` samples (the paper: 128 at T=1), and P(k) is the share of
samples that read k (stripped, one trailing "." removed). It is not renormalised: samples that are not one of
the outputs contribute 0, and `details.covered_mass` says how much of the mass the mean rests on.

`measure: top_k_or_samples` (the issue's variant): the same mean read from the top-5 next tokens at T=0 when
whole-number tokens hold at least `min_mass` of the probability (`details.method: logprobs`), else from the
samples above (`details.method: samples`; `details.top_k_mass` says how much the top 5 held). A token counts as a
whole number only when no other output starts with it: "0", "11".."99" and "100". "1".."9" and "10" do not, as
they may begin "42" or "100" on a tokenizer that writes numbers digit by digit (SmolLM2's does, so there the
sampling path is almost always taken).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from selfaware.v1 import records_pb2 as rec

from .._api import (
    CHOICE_TOP_K,
    Answer,
    ProbsAnswer,
    ProbsQuery,
    Query,
    SampleQuery,
    Scored,
    SuiteContext,
    base_record,
)
from .._params import GET_PROBS_SAMPLES, MEASURE, MIN_MASS, SELF_REPORT_PARAMS
from ._api import Question, question_type
from ._sampled import completions, sample_records, sampled_queries

NOT_A_NUMBER = "not a number from 0 to 100"
#: `get_probs`' outputs.
OUTPUTS = frozenset(str(k) for k in range(101))
#: Outputs no other output starts with: a top-k token that reads one of these is that whole answer.
WHOLE_TOKENS = frozenset(o for o in OUTPUTS if not any(other != o and other.startswith(o) for other in OUTPUTS))


def parse_scale(answer: str, low: float = 0.0, high: float = 100.0) -> float | None:
    """The number in `answer`, or None when it is not a plain number within [low, high]."""
    text = answer.strip().removesuffix(".")
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and low <= value <= high else None


def rate_scale(answer: str) -> Scored:
    """The number as text ("50", "12.5") and number / 100; the stripped answer and no score when it fails."""
    value = parse_scale(answer)
    if value is None:
        return Scored(answer.strip(), None, NOT_A_NUMBER)
    return Scored(str(int(value)) if value.is_integer() else str(value), value / 100.0)


def sampled_distribution(texts: list[str]) -> dict[str, float]:
    """Share of the samples per output (the paper's `sample_probs`, then `get_probs`' lookup of each output)."""
    counts = Counter(t.strip().removesuffix(".") for t in texts)
    return {o: counts[o] / len(texts) for o in sorted(OUTPUTS & counts.keys(), key=int)} if texts else {}


def expectation(distribution: dict[str, float]) -> float:
    """sum_k P(k) * k / 100, not renormalised."""
    return sum(p * int(k) for k, p in distribution.items()) / 100.0


@dataclass(frozen=True)
class Numeric:
    name: str = "numeric"
    params = (*SELF_REPORT_PARAMS, MEASURE, GET_PROBS_SAMPLES, MIN_MASS)

    def queries(self, question: Question, context: SuiteContext) -> list[Query]:
        per_sample = sampled_queries(question, context)
        p = context.params
        measure = p.get("measure", "samples")
        if measure == "samples":
            return list(per_sample)
        if measure == "get_probs":
            return [SampleQuery(q.item, q.messages, p["get_probs_samples"], q.temperature, q.max_tokens, q.seed,
                                q.paraphrase, pooled=True) for q in per_sample]
        return [ProbsQuery(q.item, q.messages, WHOLE_TOKENS, float(p["min_mass"]), p["get_probs_samples"],
                           q.temperature, q.max_tokens, q.seed, q.paraphrase) for q in per_sample]

    def score(self, query: Query, answer: Answer, context: SuiteContext) -> list[rec.EvalRecord]:
        if isinstance(query, ProbsQuery) and isinstance(answer, ProbsAnswer):
            return [_probs_record(query, answer)]
        sampled, texts = completions(query, answer, self.name)
        if sampled.pooled:
            return [_expectation_record(base_record(sampled), sampled_distribution(texts), "samples",
                                        {"samples": len(texts)})]
        return sample_records(sampled, texts, rate_scale)


def _probs_record(query: ProbsQuery, answer: ProbsAnswer) -> rec.EvalRecord:
    record = base_record(query)
    top_k_mass = query.covered(answer.top_k)
    if answer.samples is None:
        record.sampling.CopyFrom(rec.SamplingParams(temperature=0.0, max_tokens=1, top_k=CHOICE_TOP_K))
        distribution: dict[str, float] = {}
        for token, p in answer.top_k.items():
            if token.strip() in query.outputs:
                distribution[token.strip()] = distribution.get(token.strip(), 0.0) + p
        return _expectation_record(record, distribution, "logprobs", {"top_k_mass": top_k_mass})
    return _expectation_record(record, sampled_distribution(answer.samples), "samples",
                               {"top_k_mass": top_k_mass, "samples": len(answer.samples)})


def _expectation_record(record: rec.EvalRecord, distribution: dict[str, float], method: str,
                        extra: dict[str, float | int]) -> rec.EvalRecord:
    """The mean as score and as answer (on 0..100), with how it was estimated and the mass it rests on."""
    score = expectation(distribution)
    record.score = score
    record.answer = f"{100 * score:.2f}"
    record.details.update({"method": method, "covered_mass": sum(distribution.values()),
                           "distribution": distribution, **extra})
    return record


@question_type("numeric")
def numeric() -> Numeric:
    return Numeric()
