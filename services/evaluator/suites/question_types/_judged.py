"""Answers graded by a judge model, one T=0 completion each (the authors' "guesser", spec §2): what the question
types that judge (`language`, `judged_word`) share.

The judge is the instance's `judge` endpoint (the paper: GPT-4o) or, unset, the evaluated engine's base model
(`evaluation.evaluate` hands it over as `SuiteContext.judge`); each record's `details.judge` says which.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from selfaware.errors import DataError
from selfaware.v1 import records_pb2 as rec

from .._api import SampleQuery, Scored, SuiteContext
from ._sampled import sample_records

LOCAL_JUDGE = "the evaluated base model"


def judged_records(query: SampleQuery, texts: list[str], prompts: Sequence[str], context: SuiteContext,
                   rate: Callable[[str], Scored], task: str, verdict_detail: str = "") -> list[rec.EvalRecord]:
    """One record per completion, scored by `rate` of the judge's verdict on its prompt (prompt i judges
    completion i). `task` says what the judge is for, in the error when the instance has none; `verdict_detail`,
    when given, names the detail that keeps each verdict as the judge wrote it."""
    if context.judge is None:
        raise DataError(f"suite instance {context.instance_id!r} needs a judge to {task}")
    if len(prompts) != len(texts):
        raise ValueError(f"{len(prompts)} judge prompts for {len(texts)} completions")
    verdicts = context.judge([({"role": "user", "content": prompt},) for prompt in prompts])
    if len(verdicts) != len(texts):
        raise DataError(f"suite instance {context.instance_id!r}: the judge gave {len(verdicts)} verdicts for "
                        f"{len(texts)} answers")
    by_text = iter(verdicts)
    records = sample_records(query, texts, lambda _: rate(next(by_text)))
    judge = context.params.get("judge") or LOCAL_JUDGE
    for record, verdict in zip(records, verdicts, strict=True):
        record.details.update({"judge": judge, **({verdict_detail: verdict} if verdict_detail else {})})
    return records
