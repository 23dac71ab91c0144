"""The paper's free-form protocol, shared by the sampled question types (`self-report-free-separate-rephrasings.py`):
every paraphrase asked `samples_per_paraphrase` times at the instance's temperature, a few tokens each, every
sample scored on its own (one record each, so the aggregator can cluster samples by paraphrase)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from selfaware.v1 import records_pb2 as rec

from .._api import (
    Answer,
    Messages,
    Query,
    SampleQuery,
    Scored,
    SuiteContext,
    base_record,
    derive_seed,
    set_score,
)
from ._api import Question


def system_messages(params: Mapping[str, Any]) -> Messages:
    """The instance's system message, or none."""
    return ({"role": "system", "content": params["system_prompt"]},) if params.get("system_prompt") else ()


def sampled_queries(question: Question, context: SuiteContext, prompts: Sequence[str] | None = None
                    ) -> list[SampleQuery]:
    """One query per paraphrase (or per given prompt, one per paraphrase), `samples_per_paraphrase` samples
    each, with a seed of its own per (evaluation seed, instance, paraphrase)."""
    p = context.params
    return [
        SampleQuery(
            item=f"{question.item}/{index}",
            messages=(*system_messages(p), {"role": "user", "content": text}),
            n=p["samples_per_paraphrase"],
            temperature=float(p["temperature"]),
            max_tokens=p["max_tokens"],
            seed=derive_seed(context.seed, context.instance_id, str(index)),
            paraphrase=index,
        )
        for index, text in enumerate(question.paraphrases if prompts is None else prompts)
    ]


def completions(query: Query, answer: Answer, type_name: str) -> tuple[SampleQuery, list[str]]:
    """The query and its completions, or a TypeError naming the type when it got something else."""
    if not isinstance(query, SampleQuery) or not isinstance(answer, list):
        raise TypeError(f"question type {type_name} scores sampled completions of SampleQuery items only")
    return query, answer


def sample_records(query: SampleQuery, answer: list[str], rate: Callable[[str], Scored]) -> list[rec.EvalRecord]:
    """One record per completion: its text, and its parsed answer and score (or why it was dropped)."""
    records = []
    for index, text in enumerate(answer):
        record = base_record(query, sample=index)
        record.output = text
        records.append(set_score(record, rate(text)))
    return records
