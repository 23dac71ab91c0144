"""Answers graded by a judge model, one T=0 completion each (the authors' "guesser", spec §2): what the question
types that judge (`language`, `judged_word`, `judged_yes_no`) share.

The judge is the instance's `judge` endpoint (the paper: GPT-4o) or, unset, the evaluated engine's base model
(`evaluation.evaluate` hands it over as `SuiteContext.judge`); each record's `details.judge` says which.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from selfaware.errors import DataError
from selfaware.v1 import records_pb2 as rec

from .._api import Answer, Query, SampleQuery, Scored, SuiteContext
from ._api import Question
from ._sampled import completions, sample_records, sampled_queries
from ._template import PLACEHOLDER, fill, with_prefix

LOCAL_JUDGE = "the evaluated base model"
#: The query detail (and so the record's) holding the judge prompt, with its placeholder, that scoring fills.
JUDGE_PROMPT = "judge_prompt"


def authors_yes_no(verdict: str) -> bool | None:
    """True for YES, False for NO, None for anything else, as the authors parse a YES/NO judge
    (R-old `mains/vc/in_distribution_eval.py`'s `evaluate_code`, and their script for the "name the downside"
    question: `out.lower()[:3] == "yes"`, else `out.lower()[:2] == "no"`, else the answer is skipped)."""
    if verdict.lower()[:3] == "yes":
        return True
    if verdict.lower()[:2] == "no":
        return False
    return None


def prompt_judged_queries(question: Question, context: SuiteContext, placeholder: str) -> list[Query]:
    """The question's sampled queries, each carrying the entry's judge prompt (checked for `placeholder` before
    anything is sampled) to scoring."""
    where = f"suite instance {context.instance_id!r}"
    fill(question.judge_prompt, {placeholder: ""}, f"{where}, judge prompt")
    prompts = [fill(text, {}, where) for text in with_prefix(question)]
    return [dataclasses.replace(q, details={JUDGE_PROMPT: question.judge_prompt})
            for q in sampled_queries(question, context, prompts)]


@dataclass(frozen=True)
class PromptJudged:
    """A question type whose every sampled answer a judge reads, put in the entry's judge prompt at `placeholder`
    (the authors' format key); subclasses name themselves and score the verdicts."""

    placeholder: str

    def __post_init__(self) -> None:
        if not PLACEHOLDER.fullmatch("{" + self.placeholder + "}"):
            raise ValueError(f"{getattr(self, 'name', type(self).__name__)}: placeholder {self.placeholder!r} is not "
                             "a name")

    def queries(self, question: Question, context: SuiteContext) -> list[Query]:
        return prompt_judged_queries(question, context, self.placeholder)


def prompt_judged_records(query: Query, answer: Answer, context: SuiteContext, placeholder: str, type_name: str,
                          rate: Callable[[str], Scored], task: str, verdict_detail: str) -> list[rec.EvalRecord]:
    """`judged_records` of a `prompt_judged_queries` query: each completion put in the judge prompt it carries."""
    sampled, texts = completions(query, answer, type_name)
    template = str(sampled.details[JUDGE_PROMPT])
    where = f"suite instance {context.instance_id!r}, judge prompt"
    prompts = [fill(template, {placeholder: text}, where) for text in texts]
    return judged_records(sampled, texts, prompts, context, rate, task, verdict_detail)


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
