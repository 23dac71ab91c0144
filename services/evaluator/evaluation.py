"""The evaluator's one entry point: run a plan's suites against a model (or several) on one engine.

Suites describe queries and score answers; this module asks the engine. All models' queries of a suite go to
the engine in one call per question type, which is where vLLM's throughput comes from (its LoRA guard splits
base-model requests into their own batch). Progress counts suites, and cancellation is checked between them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import structlog

from selfaware.errors import Cancelled, FieldViolation, SpecError
from selfaware.probes import ProbeItem

from .engines import Adapter, ChoiceRequest, ModelEngine, SampleRequest
from .suites import SUITES, Answer, ChoiceQuery, Query, Record, SampleQuery, SuiteInfo, suite_descriptions

__all__ = [
    "EvaluationPlan",
    "EvaluationResult",
    "SuiteInfo",
    "SuiteResult",
    "evaluate_models",
    "suite_descriptions",
    "summarize",
]

log = structlog.get_logger(__name__)

Progress = Callable[[int, int], None]
ShouldStop = Callable[[], bool]


@dataclass(frozen=True)
class EvaluationPlan:
    """What to measure; validated on creation, errors name the experiment spec's `evaluation.*` field."""

    #: Suite registry names, run in this order.
    suites: tuple[str, ...]
    #: Samples per question paraphrase for self-report suites; 0 means the paper's 100.
    samples_per_paraphrase: int
    #: Sampling temperature for self-report suites (the paper uses 1.0).
    temperature: float
    #: Lottery pairs in the lottery probe; 0 means the authors' code default, 100.
    lottery_pairs: int
    #: Directory path or http(s) URL base holding the authors' question YAML files.
    questions_uri: str
    #: Seeds every sampled query (each query derives its own seed from it).
    seed: int
    #: Held-out probe items for the `heldout` suite.
    probe: tuple[ProbeItem, ...] = ()

    def __post_init__(self) -> None:
        violations = []
        if not self.suites:
            violations.append(FieldViolation("evaluation.suites", "choose at least one suite"))
        for index, name in enumerate(self.suites):
            if name not in SUITES:
                choices = ", ".join(SUITES.names())
                violations.append(FieldViolation(f"evaluation.suites[{index}]",
                                                 f"unknown suite {name!r}; choose one of: {choices}"))
            elif name in self.suites[:index]:
                violations.append(FieldViolation(f"evaluation.suites[{index}]", f"suite {name!r} is listed twice"))
        if self.samples_per_paraphrase < 0:
            violations.append(FieldViolation("evaluation.samples_per_paraphrase", "must not be negative"))
        if not (math.isfinite(self.temperature) and self.temperature >= 0):
            violations.append(FieldViolation("evaluation.temperature", "must be a finite number >= 0"))
        if self.lottery_pairs < 0:
            violations.append(FieldViolation("evaluation.lottery_pairs", "must not be negative"))
        if violations:
            raise SpecError(violations)


@dataclass
class SuiteResult:
    """One suite's score for one model: the mean over scored records (NaN when none scored)."""

    suite: str
    mean: float
    #: Records that were scored.
    n: int
    #: Records that could not be scored (e.g. a non-numeric answer on a 0-100 scale).
    dropped: int


@dataclass
class EvaluationResult:
    """Every record of one model, and one score per suite in plan order."""

    records: list[Record] = field(default_factory=list)
    scores: list[SuiteResult] = field(default_factory=list)


def evaluate_models(
    engine: ModelEngine,
    adapters: Sequence[Adapter | None],
    plan: EvaluationPlan,
    progress: Progress | None = None,
    should_stop: ShouldStop | None = None,
) -> list[EvaluationResult]:
    """Run `plan` on several models at once (one result per adapter, in order), batching them together.

    Args:
        progress: Called with (suites done, suites in total) after each suite.
        should_stop: Polled before each suite; True raises `Cancelled`.
    """
    suites = [SUITES.get(name)() for name in plan.suites]
    results = [EvaluationResult() for _ in adapters]
    for done, suite in enumerate(suites):
        if should_stop is not None and should_stop():
            raise Cancelled(f"evaluation cancelled before suite {suite.name!r}")
        started = time.monotonic()
        queries = suite.queries(plan)
        answers = _ask(engine, queries, adapters)
        for result, model_answers in zip(results, answers, strict=True):
            records = [record for query, answer in zip(queries, model_answers, strict=True)
                       for record in suite.score(query, answer)]
            result.records.extend(records)
            result.scores.append(summarize(suite.name, records))
        log.info("suite_evaluated", suite=suite.name, models=len(adapters), queries=len(queries),
                 means=[round(r.scores[-1].mean, 4) for r in results],
                 duration_s=round(time.monotonic() - started, 2))
        if progress is not None:
            progress(done + 1, len(suites))
    return results


def summarize(suite: str, records: Sequence[Record]) -> SuiteResult:
    """Mean score over the records that have one; the others count as dropped."""
    scores = [record["score"] for record in records if record["score"] is not None]
    mean = sum(scores) / len(scores) if scores else math.nan
    return SuiteResult(suite, mean, len(scores), len(records) - len(scores))


def _ask(engine: ModelEngine, queries: Sequence[Query], adapters: Sequence[Adapter | None]) -> list[list[Answer]]:
    """answers[model][query], from one engine call per question type for all models together."""
    answers: list[list[Answer]] = [[[] for _ in queries] for _ in adapters]
    choices = [(q, query) for q, query in enumerate(queries) if isinstance(query, ChoiceQuery)]
    if choices:
        slots = [(m, q) for m in range(len(adapters)) for q, _ in choices]
        requests = [ChoiceRequest(query.messages, adapter) for adapter in adapters for _, query in choices]
        for (m, q), probs in zip(slots, engine.next_token_probs(requests), strict=True):
            answers[m][q] = probs
    samples = [(q, query) for q, query in enumerate(queries) if isinstance(query, SampleQuery)]
    if samples:
        slots = [(m, q) for m in range(len(adapters)) for q, _ in samples]
        sample_requests = [
            SampleRequest(query.messages, adapter, query.n, query.temperature, query.max_tokens, query.seed)
            for adapter in adapters for _, query in samples
        ]
        for (m, q), completions in zip(slots, engine.sample(sample_requests), strict=True):
            answers[m][q] = completions
    return answers
