"""The evaluator's one entry point: run suite instances against several models on one engine, in batches.

Suites describe queries and score answers; this module asks the engine. Each instance's queries go to the engine
for all the models it applies to together, at most `batch_requests` (model, query) requests per call (vLLM's
LoRA guard splits base-model requests into their own batch). After every call the new records of each model go
to a sink, which stores them, so an interrupted evaluation keeps what it computed: given the units already
stored (`done`), a resumed one asks only for the rest (`missing_requests`). Cancellation is checked before each
call. Every record is keyed by its `unit`, "<instance>/<item>/p<permutation>/s<sample>", unique per model.

An interactive suite (Make Me Say game play) runs in the same loop, with its `play` in place of one engine call
and the scoring: each batch of its missing units (at most `batch_requests`: several models' games) is a wave
that the suite plays through an `Ask` callable, which asks the engine with each unit's adapter and checks
cancellation before every call. The wave's records go to the sink as a batch's do; a game cut short is played
again from its start on resume. Game play runs before every other instance, whatever the spec's order, because
later suites read each model's game messages (`SuiteContext.game_messages`, for f(message)); an earlier
attempt's come in `stored_game_messages`. A suite's endpoint parameters left unset in the spec (`judge`,
`manipulatee`) are the engine's base model.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, cast

import structlog

from selfaware.errors import Cancelled, DataError
from selfaware.v1 import records_pb2 as rec

from .engines import Adapter, ChoiceRequest, Messages, ModelEngine, SampleRequest
from .suites import (
    GAME_PLAY,
    SUITES,
    Answer,
    ChoiceQuery,
    InteractiveSuite,
    Judge,
    PlayQuery,
    ProbsAnswer,
    ProbsQuery,
    Query,
    SampleQuery,
    Sampler,
    Suite,
    SuiteContext,
    game_messages,
)
from .suites._api import CHOICE_TOP_K

__all__ = [
    "EvalModel",
    "Evaluation",
    "InstancePlan",
    "PlannedEvaluation",
    "PlannedInstance",
    "Request",
    "Sink",
    "evaluate",
    "judge_with",
    "missing_requests",
    "plan_evaluation",
    "query_units",
    "sampler_with",
    "Summary",
    "summarize",
    "unit_key",
]

log = structlog.get_logger(__name__)

#: Receives each model's new records (label -> records, in order) after every engine call.
Sink = Callable[[Mapping[str, Sequence[rec.EvalRecord]]], None]
ShouldStop = Callable[[], bool]

DEFAULT_BATCH_REQUESTS = 64
#: The endpoint parameter whose model judges answers (T=0); a suite's other endpoint parameters sample.
JUDGE = "judge"
#: Longest verdict a judge may write.
JUDGE_MAX_TOKENS = 256
#: Longest verdict of the evaluated engine's base model when it judges (a suite's `judge` unset): the judge
#: prompts ask for one word, and a small local model may ramble for all of JUDGE_MAX_TOKENS.
LOCAL_JUDGE_MAX_TOKENS = 8


@dataclass(frozen=True)
class EvalModel:
    """One model under evaluation, with what its records say about it."""

    label: str
    #: None for the base model.
    adapter: Adapter | None
    #: The adapter's sha256, "served:<model id>" for a hosted fine-tune, or "base:<base model name>".
    model_hash: str
    arm: str = ""
    seed: int = 0


@dataclass(frozen=True)
class InstancePlan:
    """One suite instance of the spec and the models it applies to."""

    suite: str
    context: SuiteContext
    #: Labels of the models it runs on, a subset of `Evaluation.models`.
    models: tuple[str, ...]

    @property
    def instance_id(self) -> str:
        return self.context.instance_id


@dataclass(frozen=True)
class Evaluation:
    """What to evaluate, on which engine, for which experiment."""

    experiment_id: str
    #: The engine's registry name, as records name it.
    engine: str
    models: tuple[EvalModel, ...]
    instances: tuple[InstancePlan, ...]
    #: Most (model, query) requests per engine call; records are handed to the sink after each call.
    batch_requests: int = DEFAULT_BATCH_REQUESTS

    def __post_init__(self) -> None:
        labels = [m.label for m in self.models]
        if len(set(labels)) != len(labels):
            raise ValueError(f"model labels must be distinct: {labels}")
        for instance in self.instances:
            unknown = sorted(set(instance.models) - set(labels))
            if unknown:
                raise ValueError(f"instance {instance.instance_id!r} names unknown models {unknown}")
        if self.batch_requests < 1:
            raise ValueError("batch_requests: must be at least 1")


@dataclass(frozen=True)
class PlannedInstance:
    plan: InstancePlan
    suite: Suite | InteractiveSuite
    queries: tuple[Query, ...]


@dataclass(frozen=True)
class PlannedEvaluation:
    """An evaluation with every instance's queries built (question files read, lotteries drawn)."""

    evaluation: Evaluation
    instances: tuple[PlannedInstance, ...] = field(default_factory=tuple)

    def units_per_model(self) -> dict[str, int]:
        """How many records each model's evaluation holds when complete."""
        totals = {m.label: 0 for m in self.evaluation.models}
        for planned in self.instances:
            units = sum(q.samples for q in planned.queries)
            for label in planned.plan.models:
                totals[label] += units
        return totals


class Request(NamedTuple):
    """One query asked of one model."""

    model: str
    query: int


def unit_key(instance_id: str, item: str, permutation: int, sample: int) -> str:
    return f"{instance_id}/{item}/p{permutation}/s{sample}"


def query_units(instance_id: str, query: Query) -> list[str]:
    """The units a query's answer produces, one per sample (one for a pooled or get_probs query)."""
    permutation = query.permutation if isinstance(query, ChoiceQuery | SampleQuery) else 0
    return [unit_key(instance_id, query.item, permutation, s) for s in range(query.samples)]


def plan_evaluation(evaluation: Evaluation) -> PlannedEvaluation:
    """Build every instance's queries, game play first (later suites read its messages); a suite whose units are
    not unique is a DataError (e.g. duplicate ids)."""
    planned = []
    for instance in sorted(evaluation.instances, key=lambda i: i.suite != GAME_PLAY):
        suite = SUITES.get(instance.suite)()
        queries = tuple(suite.queries(instance.context))
        units = [u for q in queries for u in query_units(instance.instance_id, q)]
        if len(set(units)) != len(units):
            duplicates = sorted({u for u in units if units.count(u) > 1})[:3]
            raise DataError(f"suite instance {instance.instance_id!r} asks the same unit twice: {duplicates}")
        interactive = isinstance(suite, InteractiveSuite)
        if any(isinstance(q, PlayQuery) != interactive for q in queries):
            raise TypeError(f"suite {instance.suite!r}: interactive suites (with `play`) ask PlayQuery units, and "
                            f"only they do")
        planned.append(PlannedInstance(instance, suite, queries))
    return PlannedEvaluation(evaluation, tuple(planned))


def missing_requests(instance_id: str, queries: Sequence[Query], models: Sequence[str],
                     done: Mapping[str, set[str]]) -> list[Request]:
    """The (model, query) requests whose units are not all in `done[model]`, query-major (each query for every
    model in turn), so that a batch advances all models together."""
    return [Request(model, index)
            for index, query in enumerate(queries)
            for model in models
            if not set(query_units(instance_id, query)) <= done.get(model, set())]


def evaluate(engine: ModelEngine, planned: PlannedEvaluation, sink: Sink,
             done: Mapping[str, Iterable[str]] | None = None, should_stop: ShouldStop | None = None,
             stored_game_messages: Mapping[str, Iterable[str]] | None = None) -> dict[str, int]:
    """Ask the engine for every unit not in `done` and hand the records to `sink` after each engine call (each
    wave of an interactive suite).

    Args:
        done: Per model label, the units already stored; they are neither asked nor handed to the sink again.
        should_stop: Polled before each engine call; True raises `Cancelled`.
        stored_game_messages: Per model label, the game messages (`suites.game_messages`) of its stored records.

    Returns:
        Per model label, how many records this call computed.
    """
    evaluation = planned.evaluation
    models = {m.label: m for m in evaluation.models}
    stored = {label: set((done or {}).get(label, ())) for label in models}
    messages = {label: list((stored_game_messages or {}).get(label, ())) for label in models}
    computed = dict.fromkeys(models, 0)
    for instance in planned.instances:
        plan = instance.plan
        context = _with_endpoints(instance.suite, plan.context, engine)
        # Sorted: the same pool whatever order the games were stored in (f(message) draws from it, seeded).
        contexts = {label: dataclasses.replace(context, game_messages=tuple(sorted(messages[label])))
                    for label in plan.models}
        requests = missing_requests(plan.instance_id, instance.queries, plan.models, stored)
        for start in range(0, len(requests), evaluation.batch_requests):
            if should_stop is not None and should_stop():
                raise Cancelled(f"evaluation cancelled in suite instance {plan.instance_id!r}")
            started = time.monotonic()
            batch = requests[start : start + evaluation.batch_requests]
            asks = [(models[r.model].adapter, instance.queries[r.query]) for r in batch]
            if isinstance(instance.suite, InteractiveSuite):
                results = _play(engine, instance.suite, asks, context, should_stop)
            else:
                answers = _ask(engine, asks)
                results = [instance.suite.score(query, answer, contexts[request.model])
                           for request, (_, query), answer in zip(batch, asks, answers, strict=True)]
            new: dict[str, list[rec.EvalRecord]] = {}
            for request, records in zip(batch, results, strict=True):
                for record in records:
                    _stamp(record, models[request.model], plan, evaluation)
                    if record.unit not in stored[request.model]:
                        stored[request.model].add(record.unit)
                        new.setdefault(request.model, []).append(record)
            sink(new)
            for label, records in new.items():
                computed[label] += len(records)
                messages[label].extend(game_messages(records))
            log.info("batch_evaluated", instance=plan.instance_id, requests=len(batch),
                     records=sum(len(r) for r in new.values()), done=start + len(batch), of=len(requests),
                     duration_s=round(time.monotonic() - started, 2))
    return computed


def summarize(instances: Sequence[str], records: Iterable[rec.EvalRecord]) -> list[rec.SuiteScore]:
    """One score per instance that has records, in `instances` order (`Summary` over all of `records`)."""
    summary = Summary()
    summary.add(records)
    return summary.scores(instances)


class Summary:
    """The scores of records handed over batch by batch, so that the evaluator keeps no record once it is stored.

    The mean is over units (item, paraphrase, sample) with the permutations of a unit averaged first, as the
    report computes it; NaN when every record was dropped. `n` counts scored records, `dropped` the others. What
    is kept: a running sum and count per scored unit (a unit's permutations may arrive in different engine calls).
    """

    def __init__(self) -> None:
        self.units: dict[str, dict[tuple[str, int, int], list[float]]] = {}
        self.counts: dict[str, list[int]] = {}

    def add(self, records: Iterable[rec.EvalRecord]) -> None:
        for record in records:
            count = self.counts.setdefault(record.suite_instance, [0, 0])
            if record.HasField("score"):
                count[0] += 1
                unit = self.units.setdefault(record.suite_instance, {}).setdefault(
                    (record.item, record.paraphrase, record.sample), [0.0, 0])
                unit[0] += record.score
                unit[1] += 1
            else:
                count[1] += 1

    def scores(self, instances: Sequence[str]) -> list[rec.SuiteScore]:
        scores = []
        for instance in instances:
            if instance not in self.counts:
                continue
            means = [total / n for total, n in self.units.get(instance, {}).values()]
            mean = sum(means) / len(means) if means else math.nan
            scores.append(rec.SuiteScore(suite=instance, mean=mean, n=self.counts[instance][0],
                                         dropped=self.counts[instance][1]))
        return scores


def sampler_with(engine: ModelEngine) -> Sampler:
    """A suite's sampler over an engine: each query's completions, asked of the engine's base model."""

    def sample(queries: Sequence[SampleQuery]) -> list[list[str]]:
        return engine.sample([_sample_request(q, None) for q in queries])

    return sample


def judge_with(engine: ModelEngine, max_tokens: int = JUDGE_MAX_TOKENS) -> Judge:
    """A suite's judge over an engine: one greedy completion per conversation, asked of the engine's base model."""
    sample = sampler_with(engine)

    def judge(conversations: Sequence[Messages]) -> list[str]:
        queries = [SampleQuery("judge", tuple(m), 1, 0.0, max_tokens, 0) for m in conversations]
        return [completions[0] if completions else "" for completions in sample(queries)]

    return judge


def _with_endpoints(suite: Suite | InteractiveSuite, context: SuiteContext, engine: ModelEngine) -> SuiteContext:
    """The context a suite runs with: each endpoint parameter it declares, left unset in the spec, is the
    evaluation engine's base model, so it runs without an endpoint: a `judge` judges at T=0, and every one (the
    Make Me Say `manipulatee`, and `judge` for a suite that samples its judge: vc_secure_code's T=1 variant)
    samples as asked."""
    endpoints = [p.name for p in suite.params if p.type == "endpoint"]
    unset = [name for name in endpoints if name not in context.samplers]
    judge = context.judge
    if judge is None and JUDGE in endpoints:
        judge = judge_with(engine, LOCAL_JUDGE_MAX_TOKENS)
    if not unset and judge is context.judge:
        return context
    return dataclasses.replace(context, judge=judge,
                               samplers={**context.samplers, **dict.fromkeys(unset, sampler_with(engine))})


def _play(engine: ModelEngine, suite: InteractiveSuite, asks: Sequence[tuple[Adapter | None, Query]],
          context: SuiteContext, should_stop: ShouldStop | None) -> list[list[rec.EvalRecord]]:
    """One wave of an interactive suite: its records per unit; each of its engine calls asks every unit's
    requests with that unit's adapter, after checking for cancellation."""

    def ask(requests: Sequence[tuple[int, SampleQuery]]) -> list[list[str]]:
        if should_stop is not None and should_stop():
            raise Cancelled(f"evaluation cancelled while playing {suite.name!r}")
        return engine.sample([_sample_request(q, asks[unit][0]) for unit, q in requests])

    return suite.play([cast(PlayQuery, q) for _, q in asks], ask, context)  # plan_evaluation checked the kinds


def _sample_request(query: SampleQuery | ProbsQuery, adapter: Adapter | None) -> SampleRequest:
    return SampleRequest(query.messages, adapter, query.n, query.temperature, query.max_tokens, query.seed)


def _stamp(record: rec.EvalRecord, model: EvalModel, plan: InstancePlan, evaluation: Evaluation) -> None:
    """The fields that say who was asked, and the record's unit."""
    record.experiment_id = evaluation.experiment_id
    record.model = model.label
    record.model_hash = model.model_hash
    record.arm = model.arm
    record.seed = model.seed
    record.suite_instance = plan.instance_id
    record.suite = plan.suite
    record.engine = evaluation.engine
    record.unit = unit_key(plan.instance_id, record.item, record.permutation, record.sample)


def _ask(engine: ModelEngine, asks: Sequence[tuple[Adapter | None, Query]]) -> list[Answer]:
    """Answers in request order, from one engine call per question type."""
    answers: list[Answer] = [[] for _ in asks]
    choices = [(i, adapter, q) for i, (adapter, q) in enumerate(asks) if isinstance(q, ChoiceQuery)]
    if choices:
        probs = engine.next_token_probs([ChoiceRequest(q.messages, adapter) for _, adapter, q in choices],
                                        top_k=CHOICE_TOP_K)
        for (i, _, _), result in zip(choices, probs, strict=True):
            answers[i] = result
    samples = [(i, adapter, q) for i, (adapter, q) in enumerate(asks) if isinstance(q, SampleQuery)]
    if samples:
        completions = engine.sample([_sample_request(q, adapter) for _, adapter, q in samples])
        for (i, _, _), result in zip(samples, completions, strict=True):
            answers[i] = result
    probs_queries = [(i, adapter, q) for i, (adapter, q) in enumerate(asks) if isinstance(q, ProbsQuery)]
    if probs_queries:
        for i, answer in zip([i for i, _, _ in probs_queries], _get_probs(engine, probs_queries), strict=True):
            answers[i] = answer
    return answers


def _get_probs(engine: ModelEngine, asks: Sequence[tuple[int, Adapter | None, ProbsQuery]]) -> list[ProbsAnswer]:
    """The paper's `get_probs`: the top-k next tokens for every query, then samples for those whose outputs
    hold less than their `min_mass` of it (one engine call each, whatever the number of queries)."""
    tops = engine.next_token_probs([ChoiceRequest(q.messages, adapter) for _, adapter, q in asks],
                                   top_k=CHOICE_TOP_K)
    fallback = [k for k, ((_, _, q), top) in enumerate(zip(asks, tops, strict=True)) if q.covered(top) < q.min_mass]
    drawn = engine.sample([_sample_request(asks[k][2], asks[k][1]) for k in fallback]) if fallback else []
    samples = dict(zip(fallback, drawn, strict=True))
    return [ProbsAnswer(top, samples.get(k)) for k, top in enumerate(tops)]
