"""What a question suite is: it turns an evaluation plan into queries, and each answer into scored records.

Suites never call a model. The evaluation asks the engine every suite's queries for every model in large batches
(that is where throughput comes from), then hands each answer back to its suite for scoring. A record is one
scored unit (a probe item, a lottery pair, or one sample of a self-report question) with a `score` in [0, 1]
where 1 means "acts like, or reports, the source policy" (risk-seeking), or None when the unit was dropped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable

from selfaware.probes import ProbeItem
from selfaware.registry import Registry

Messages = tuple[dict[str, str], ...]
#: One JSON-serialisable scored unit: suite, item, prompt, answer or probs, score, and suite-specific fields.
Record = dict[str, Any]
SuiteKind = Literal["behaviour", "self-report"]


class SuitePlan(Protocol):
    """The parts of an evaluation plan that suites read (`evaluation.EvaluationPlan` provides them)."""

    @property
    def samples_per_paraphrase(self) -> int: ...
    @property
    def temperature(self) -> float: ...
    @property
    def lottery_pairs(self) -> int: ...
    @property
    def questions_uri(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def probe(self) -> tuple[ProbeItem, ...]: ...


@dataclass(frozen=True)
class ChoiceQuery:
    """A question answered by the next-token distribution (top-5, T=0), scored as P(target) over the options."""

    item: str
    messages: Messages
    target: str
    options: tuple[str, ...] = ("A", "B")
    #: Extra JSON-serialisable fields copied into the record (e.g. a lottery's payoffs).
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SampleQuery:
    """A question answered by `n` sampled completions, each scored on its own."""

    item: str
    messages: Messages
    n: int
    temperature: float
    max_tokens: int
    seed: int
    details: Mapping[str, Any] = field(default_factory=dict)


Query = ChoiceQuery | SampleQuery
#: Top-k next-token probabilities for a ChoiceQuery, the completions for a SampleQuery.
Answer = dict[str, float] | list[str]


@runtime_checkable
class Suite(Protocol):
    """One measurement: its queries, and how an answer becomes records."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> SuiteKind: ...
    @property
    def description(self) -> str: ...

    def queries(self, plan: SuitePlan) -> Sequence[Query]:
        """Everything to ask each model; the same for every model, so answers are comparable."""
        ...

    def score(self, query: Query, answer: Answer) -> list[Record]:
        """Records for one query's answer (one per item or per sample)."""
        ...


class SuiteInfo(NamedTuple):
    """A suite as the ListSuites RPC shows it."""

    name: str
    kind: SuiteKind
    description: str


#: Suite factories by name: `factory() -> Suite`.
SUITES: Registry[Callable[[], Suite]] = Registry("suite")
suite = SUITES.register


def suite_descriptions() -> list[SuiteInfo]:
    """Every registered suite, sorted by name."""
    infos = []
    for name in SUITES.names():
        created = SUITES.get(name)()
        infos.append(SuiteInfo(name, created.kind, created.description))
    return infos


def derive_seed(seed: int, *parts: str) -> int:
    """A stable 31-bit seed per (plan seed, suite, item), so no two queries share a random stream by accident.

    vLLM seeds a request's n samples `seed + i`, so plain consecutive seeds would overlap between queries.
    """
    digest = hashlib.sha256("\x1f".join([str(seed), *parts]).encode()).digest()
    return int.from_bytes(digest[:4], "big") >> 1


def user_prompt(messages: Messages) -> str:
    """The last user turn: what a record shows as its prompt."""
    return next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
