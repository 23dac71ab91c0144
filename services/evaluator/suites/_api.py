"""What a question suite is: it turns one suite instance's context into queries, and each answer into records.

Suites never call a model on their own. The evaluation asks the engine every instance's queries for every model in
batches (that is where throughput comes from), then hands each answer back to its suite for scoring. An
interactive suite (a Make Me Say game: many rounds, each depending on the last) cannot be asked up front: its
queries are `PlayQuery` units, which the evaluation hands to the suite's `play` in waves, together with a way to
sample the model of each unit (`Ask`), and the records come back per unit. A record is one
scored unit (a probe item in one option order, a lottery pair, or one sample of a self-report question) with a
`score` in [0, 1] where 1 is the direction of the suite's target (e.g. risk-seeking), or no score and a
`dropped_reason` when the unit could not be scored. Suites fill the fields they know (item, prompt, answer,
score, ...); the evaluation adds who was asked (model, engine, unit).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable

from google.protobuf import json_format

from selfaware.params import Param
from selfaware.registry import Registry
from selfaware.v1 import records_pb2 as rec

Messages = tuple[dict[str, str], ...]
SuiteKind = Literal["behaviour", "self-report"]
#: Asks a judge model one completion per conversation (T=0), in order.
Judge = Callable[[Sequence[Messages]], list[str]]
#: Samples one model (an endpoint's, or the evaluation engine's base model): each query's `n` completions, in order.
Sampler = Callable[[Sequence["SampleQuery"]], list[list[str]]]
#: Samples the model under test of each (unit index into the `play` call's queries, query): `n` completions each.
Ask = Callable[[Sequence[tuple[int, "SampleQuery"]]], list[list[str]]]

#: The top-k next-token probabilities a two-option query reads (the paper's `logprob_probs`).
CHOICE_TOP_K = 5


@dataclass(frozen=True)
class SuiteContext:
    """Everything one suite instance reads: its parameters (complete: every declared one is present, unless its
    default is None), the arms' held-out probes, and the evaluation's seed."""

    instance_id: str
    params: Mapping[str, Any]
    #: Arm name -> that arm's held-out probe, in spec arm order; arms without held-out rows are absent.
    probes: Mapping[str, rec.ProbeSet] = field(default_factory=dict)
    #: `evaluation.seed`; each sampled query derives its own seed from it (`derive_seed`).
    seed: int = 0
    #: Set when the suite declares an endpoint parameter `judge`: the named endpoint's model, or (unset) the
    #: evaluation engine's base model (`evaluation.evaluate`).
    judge: Judge | None = None
    #: When scoring one model: the user messages (each game's opening one excepted) of that model's own Make Me
    #: Say games in this evaluation (the `mms_game_play` suite's transcripts, also those an interrupted attempt
    #: stored; spec §4.4 item 6's f(message)); empty when it played none. The evaluation plays the games before
    #: any other instance, whatever the spec's order (`evaluation.plan_evaluation`).
    game_messages: tuple[str, ...] = ()
    #: Per endpoint parameter the suite declares (`manipulatee`, also `judge`): that endpoint's model or, left
    #: unset in the spec, the evaluation engine's base model, sampled as each query asks (`evaluation.evaluate`).
    samplers: Mapping[str, Sampler] = field(default_factory=dict)


@dataclass(frozen=True)
class ChoiceQuery:
    """A question answered by the next-token distribution (top-5, T=0), scored as P(target) over the options."""

    item: str
    messages: Messages
    target: str
    options: tuple[str, ...] = ("A", "B")
    #: 0: the options as written; then the other orders (two options: 1 = their letters swapped).
    permutation: int = 0
    #: Extra plain-data fields for the record's `details` (e.g. a lottery's payoffs).
    details: Mapping[str, Any] = field(default_factory=dict)
    paraphrase: int = 0

    @property
    def samples(self) -> int:
        return 1


@dataclass(frozen=True)
class SampleQuery:
    """A question answered by `n` sampled completions, each scored on its own, or (`pooled`) together as one
    estimated answer distribution (the paper's `sample_probs`), which makes one record."""

    item: str
    messages: Messages
    n: int
    temperature: float
    max_tokens: int
    seed: int
    paraphrase: int = 0
    details: Mapping[str, Any] = field(default_factory=dict)
    #: The n completions make one record (one unit) instead of one each.
    pooled: bool = False
    #: The option order, for multiple-choice questions asked by sampling (0: as written).
    permutation: int = 0

    @property
    def samples(self) -> int:
        return 1 if self.pooled else self.n


@dataclass(frozen=True)
class ProbsQuery:
    """The paper's `get_probs` over fixed outputs, read from the top-k next tokens where they cover the mass.

    The evaluation asks the top-k next-token probabilities (T=0) first; when the tokens in `outputs` hold less
    than `min_mass` of the probability, it also draws `n` samples (the sampling fallback). One record.
    """

    item: str
    messages: Messages
    #: Token texts (after `strip`) that count as one whole output each.
    outputs: frozenset[str]
    min_mass: float
    n: int
    temperature: float
    max_tokens: int
    seed: int
    paraphrase: int = 0
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def samples(self) -> int:
        return 1

    def covered(self, probs: Mapping[str, float]) -> float:
        """The top-k mass on tokens that are whole outputs."""
        return sum(p for token, p in probs.items() if token.strip() in self.outputs)


@dataclass(frozen=True)
class ProbsAnswer:
    """What a ProbsQuery got: the top-k probabilities, and the samples when they did not cover the mass."""

    top_k: dict[str, float]
    samples: list[str] | None = None


@dataclass(frozen=True)
class PlayQuery:
    """One unit an interactive suite plays out itself over many calls of the model under test (a Make Me Say
    game); the evaluation hands every unfinished one to the suite's `play`. One record."""

    item: str
    details: Mapping[str, Any] = field(default_factory=dict)
    paraphrase: int = 0

    @property
    def samples(self) -> int:
        return 1


Query = ChoiceQuery | SampleQuery | ProbsQuery | PlayQuery
#: Top-k next-token probabilities for a ChoiceQuery, the completions for a SampleQuery, both for a ProbsQuery.
Answer = dict[str, float] | list[str] | ProbsAnswer


class Scored(NamedTuple):
    """One parsed answer: what it says, its score (None drops it), and why it was dropped."""

    answer: str
    score: float | None
    dropped_reason: str = ""


class _Measurement(Protocol):
    """What the catalogue says about every suite."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> SuiteKind: ...
    @property
    def question_type(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def params(self) -> tuple[Param, ...]: ...


@runtime_checkable
class Suite(_Measurement, Protocol):
    """One measurement: its parameters, its queries, and how an answer becomes records."""

    def queries(self, context: SuiteContext) -> Sequence[Query]:
        """Everything to ask each model; the same for every model, so answers are comparable."""
        ...

    def score(self, query: Query, answer: Answer, context: SuiteContext) -> list[rec.EvalRecord]:
        """Records for one query's answer (one per sample), in sample order."""
        ...


@runtime_checkable
class InteractiveSuite(_Measurement, Protocol):
    """A measurement the suite plays out itself: its queries are `PlayQuery` units, and `play` turns a wave of
    them (of any models) into records, sampling each unit's model through `ask`."""

    def queries(self, context: SuiteContext) -> Sequence[PlayQuery]:
        """Every unit each model plays; the same for every model."""
        ...

    def play(self, queries: Sequence[PlayQuery], ask: Ask, context: SuiteContext) -> list[list[rec.EvalRecord]]:
        """Records for each query (one per sample), in query order; `ask` samples each query's own model."""
        ...


#: Suite factories by name: `factory() -> Suite | InteractiveSuite`.
SUITES: Registry[Callable[[], Suite | InteractiveSuite]] = Registry("suite")
suite = SUITES.register


def derive_seed(seed: int, *parts: str) -> int:
    """A stable 31-bit seed per (evaluation seed, instance, item), so no two queries share a random stream.

    vLLM seeds a request's n samples `seed + i`, so plain consecutive seeds would overlap between queries.
    """
    digest = hashlib.sha256("\x1f".join([str(seed), *parts]).encode()).digest()
    return int.from_bytes(digest[:4], "big") >> 1


def sampling_of(query: Query) -> rec.SamplingParams:
    """How the engine was asked: T=0 top-k for a choice query, the query's own settings for samples (a
    ProbsQuery's record states its sampling settings; `details.method` says whether they were used)."""
    if isinstance(query, ChoiceQuery):
        return rec.SamplingParams(temperature=0.0, max_tokens=1, top_k=CHOICE_TOP_K)
    return rec.SamplingParams(temperature=query.temperature, max_tokens=query.max_tokens, seed=query.seed)


def base_record(query: Query, sample: int = 0) -> rec.EvalRecord:
    """A record with every field the query determines: item, paraphrase, permutation, sample, prompt, target,
    sampling and details (two-option queries add `options`)."""
    record = rec.EvalRecord(
        item=query.item,
        sample=sample,
        prompt=[rec.ChatMessage(role=m["role"], content=m["content"]) for m in query.messages],
        sampling=sampling_of(query),
    )
    details = dict(query.details)
    record.paraphrase = query.paraphrase
    if isinstance(query, ChoiceQuery):
        record.permutation = query.permutation
        record.target = query.target
        details["options"] = list(query.options)
    elif isinstance(query, SampleQuery):
        record.permutation = query.permutation
    if details:
        json_format.ParseDict(details, record.details)
    return record


def set_score(record: rec.EvalRecord, scored: Scored) -> rec.EvalRecord:
    """Fill the answer, and the score or the reason it was dropped."""
    record.answer = scored.answer
    if scored.score is None:
        record.dropped_reason = scored.dropped_reason or "unscorable"
    else:
        record.score = scored.score
    return record
