"""Evaluation records folded, one `RecordChunk` at a time, into per-(model, suite instance) scores.

An evaluation can hold hundreds of thousands of records, so the report job never holds them all: it streams a
job's chunks through `RecordFold`, which keeps per instance only what the statistics need. That is a running
sum per permutation, dropped counts by reason, the positional preference's running sum, a bounded counter of
sampled answers, and one float per unit, summed per cluster at the end.

A unit is (item, paraphrase, sample) with the permutations averaged: a held-out question asked in both letter
orders is one unit scoring the mean of the two. Averaging first keeps the two orders of one question from
counting as two independent observations, and cancels the model's letter bias out of each unit instead of
leaving it as spread. A model's instance mean is the mean of its unit scores.

A cluster is (item, paraphrase): the samples of one paraphrase of a self-report question, or one probe item.
Units of a cluster are not independent (they answer the same wording), so a one-model interval resamples
clusters (`bootstrap.Clusters`), never units. The exception is an instance that asks one wording only (a single
cluster, as Make Me Say's multiple-choice codeword, describe-the-word, acrostic and function questions do): there
is no spread between wordings to measure, so its samples are the clusters (`sample_clusters`), and its interval
is the evaluation noise of that one wording.

Records whose details name a `scenario` (Make Me Say's "How close to your goals?", spec §4.4 item 4) are also
folded per scenario, each scenario by the same rules, so the report can show every scenario's mean (Figure 23)
without holding the records. The other `SPLIT_DETAILS` split the same way: a trigger-recognition record's
candidate (Figure 9), an elicitation prompt's behaviour description and whether it is aligned (Figure 34).

Some records carry a second verdict in their details beside the score: vulnerable code's generations are judged by
a model and by a static analyser (spec §5.2, Table 2), and the score is only one of them. The details named in
`MEAN_DETAILS` are folded into their own running sums per (item, paraphrase) cluster (`DetailMean`, which a
one-model interval resamples as it does the score's clusters); the pairs in `AGREEING_DETAILS` count the records
that carry both and how many of those agree; `COUNTED_DETAILS` are counted where present (the analyser could not
parse the code), and `VALUE_DETAILS` by value (which variant ran), so the report never needs the records.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from google.protobuf import struct_pb2

from selfaware.errors import DataError
from selfaware.v1 import records_pb2 as rec
from services.aggregator.bootstrap import Clusters

#: How many of an instance's most common sampled answers each model reports.
TOP_ANSWERS = 5
#: Distinct sampled answers counted per (model, instance); answers first seen after that are only tallied as
#: untracked, so free text cannot grow the counter without bound.
MAX_DISTINCT_ANSWERS = 1_000
#: Longer answers are counted by their first this many characters.
ANSWER_CHARS = 200
#: The letters a two-option record offers when its details carry no `options`.
DEFAULT_OPTIONS = ("A", "B")
#: What a dropped record without a `dropped_reason` is counted as.
UNSPECIFIED_REASON = "unspecified"
#: What a record whose score is not a finite number is counted as (it would poison every mean it enters).
NOT_FINITE_REASON = "score is not a finite number"
#: The detail that splits an instance's records into scenarios, and the one that orders them.
SCENARIO, SCENARIO_INDEX = "scenario", "scenario_index"
#: Details whose values split an instance's records into sub-folds (detail -> the detail ordering its values, ""
#: for first seen): scenarios (Figure 23), the candidate a trigger-recognition record asks about (Figure 9), an
#: elicitation prompt's behaviour description and whether it is aligned (Figure 34).
SPLIT_DETAILS = {SCENARIO: SCENARIO_INDEX, "trigger": "", "behavior": "", "aligned": ""}
#: Numeric details folded into their own means: verdicts beside the record's score (1 = secure; spec §5.2).
MEAN_DETAILS = ("judge_secure", "static_secure")
#: Pairs of `MEAN_DETAILS` whose agreement is counted over the records that carry both (each read as >= 0.5).
AGREEING_DETAILS = (("judge_secure", "static_secure"),)
#: Details counted where a record carries them (the static analyser could not parse the code).
COUNTED_DETAILS = ("static_error",)
#: String details counted by value (the variant of the evaluation that ran).
VALUE_DETAILS = ("variant",)
#: Distinct values counted per `VALUE_DETAILS` entry; later values are counted as `OTHER_VALUE`.
MAX_DETAIL_VALUES = 20
OTHER_VALUE = "(other)"
#: Distinct values split per `SPLIT_DETAILS` entry; records with later values are folded together as `OTHER_VALUE`.
MAX_SPLIT_VALUES = 50


def option_letter(token: str) -> str:
    """The authors' multiple-choice post-processing, as the evaluator scores: " a" and "(A" both mean "A"."""
    return token.strip().upper().strip("()")


@dataclass(frozen=True)
class PermutationScore:
    """A model's mean over the scored records of one option order (0: as written, 1: letters swapped)."""

    mean: float
    n: int


@dataclass(frozen=True)
class DetailMean:
    """One `MEAN_DETAILS` entry over the records that carry it: its mean and its (item, paraphrase) clusters."""

    mean: float
    clusters: Clusters

    @property
    def n(self) -> int:
        return sum(self.clusters.counts)


@dataclass(frozen=True)
class Agreement:
    """Two verdicts on the same records: how many records carry both, and how many of those agree."""

    n_both: int
    n_agree: int

    @property
    def share(self) -> float | None:
        return self.n_agree / self.n_both if self.n_both else None


@dataclass(frozen=True)
class InstanceScores:
    """One model's results on one suite instance."""

    suite: str
    #: Mean of the unit scores; None when every record was dropped.
    mean: float | None
    #: Unit scores (item, paraphrase, sample; permutations averaged) summed per (item, paraphrase) cluster:
    #: what a one-model interval resamples.
    clusters: Clusters
    n_records: int
    n_scored: int
    #: Dropped records by reason.
    dropped: dict[str, int]
    #: Permutation -> mean over that order's scored records, so the counterbalancing is visible.
    permutations: dict[int, PermutationScore]
    #: Whether the records are two-option next-token queries (they carry probabilities).
    two_option: bool
    #: Positional preference: mean over two-option records of P(first letter) / (P(first) + P(second)),
    #: whatever the content behind the letters; None without such records.
    p_first: float | None
    #: Records behind `p_first` (those with either letter in the top-k).
    n_positional: int
    #: Every counted sampled answer (the parsed word, number or language) with its count, most common first;
    #: for instances that sample text.
    answers: tuple[tuple[str, int], ...]
    #: Sampled answers not counted individually because the counter was full.
    untracked_answers: int
    #: Whether `clusters` are the samples of the instance's one (item, paraphrase) cluster (see the module).
    sample_clusters: bool = False
    #: Per `SPLIT_DETAILS` entry some record carries, per its value, those records folded on their own, ordered
    #: by the ordering detail (then first seen); a detail no record carries is absent.
    splits: dict[str, dict[str, InstanceScores]] = field(default_factory=dict)
    #: Per `MEAN_DETAILS` entry some record carries, its mean over those records.
    detail_means: dict[str, DetailMean] = field(default_factory=dict)
    #: Per `AGREEING_DETAILS` pair some record carries both of, their agreement.
    agreements: dict[tuple[str, str], Agreement] = field(default_factory=dict)
    #: Per `COUNTED_DETAILS` entry, the records that carry it (absent: none).
    detail_counts: dict[str, int] = field(default_factory=dict)
    #: Per `VALUE_DETAILS` entry, its values with their record counts, most common first.
    detail_values: dict[str, tuple[tuple[str, int], ...]] = field(default_factory=dict)

    @property
    def n_units(self) -> int:
        return sum(self.clusters.counts)

    @property
    def scenarios(self) -> dict[str, InstanceScores]:
        """Per `details.scenario`, ordered by `details.scenario_index`; empty when no record names a scenario."""
        return self.splits.get(SCENARIO, {})

    @property
    def top_answers(self) -> tuple[tuple[str, int], ...]:
        """The `TOP_ANSWERS` most common sampled answers."""
        return self.answers[:TOP_ANSWERS]

    @property
    def n_answers(self) -> int:
        """Records with a sampled answer, counted or not."""
        return sum(count for _, count in self.answers) + self.untracked_answers

    @property
    def n_dropped(self) -> int:
        return self.n_records - self.n_scored


@dataclass(frozen=True)
class ModelScores:
    """One evaluated model and its results per suite instance id."""

    label: str
    base_index: int
    #: Empty for a base model.
    arm: str
    seed: int
    instances: dict[str, InstanceScores]
    #: An epoch checkpoint's epoch (`ModelUnderTest.epoch`); 0 for a final model or a base model.
    epoch: int = 0

    @property
    def is_base(self) -> bool:
        return not self.arm

    @property
    def is_checkpoint(self) -> bool:
        """An earlier epoch of a trained model: a point of the faithfulness study, not a member of its arm's group."""
        return self.epoch > 0

    def usable(self, instance: str) -> InstanceScores | None:
        """The model's results on `instance` if it has a score there (it ran, and not everything dropped)."""
        scores = self.instances.get(instance)
        return scores if scores is not None and scores.mean is not None else None


class _InstanceFold:
    """The running state of one (model, instance)."""

    def __init__(self, suite: str, split: bool = True) -> None:
        self.suite = suite
        #: Split detail -> value -> (its order, its own fold); only the top fold splits.
        self.splits: dict[str, dict[str, tuple[float, _InstanceFold]]] | None = {} if split else None
        self.units: dict[tuple[str, int, int], list[float]] = {}
        self.n_records = 0
        self.dropped: Counter[str] = Counter()
        self.permutations: dict[int, list[float]] = {}
        self.positional_sum = 0.0
        self.n_positional = 0
        self.two_option = False
        self.answers: Counter[str] = Counter()
        self.untracked_answers = 0
        #: Detail -> cluster key -> [sum, count].
        self.detail_sums: dict[str, dict[str, list[float]]] = {}
        self.agreements: dict[tuple[str, str], list[int]] = {}
        self.detail_counts: Counter[str] = Counter()
        self.detail_values: dict[str, Counter[str]] = {}

    def add(self, record: rec.EvalRecord) -> None:
        self.n_records += 1
        if record.HasField("score") and math.isfinite(record.score):
            unit = self.units.setdefault((record.item, record.paraphrase, record.sample), [0.0, 0])
            unit[0] += record.score
            unit[1] += 1
            order = self.permutations.setdefault(record.permutation, [0.0, 0])
            order[0] += record.score
            order[1] += 1
        elif record.HasField("score"):
            self.dropped[NOT_FINITE_REASON] += 1
        else:
            self.dropped[record.dropped_reason or UNSPECIFIED_REASON] += 1
        if record.probs:
            # With a target, a letter choice; without, a distribution over outputs (e.g. "0".."100"), which
            # is neither a choice between two letters nor one sampled answer.
            if record.target:
                self.two_option = True
                self._add_position(record)
        elif record.answer.strip():
            self._add_answer(record.answer.strip()[:ANSWER_CHARS])
        if self.splits is not None:
            self._add_splits(record)
        if record.details.fields:
            self._add_details(record)

    def _add_details(self, record: rec.EvalRecord) -> None:
        fields = record.details.fields
        verdicts = {name: fields[name].number_value for name in MEAN_DETAILS
                    if name in fields and fields[name].HasField("number_value")
                    and math.isfinite(fields[name].number_value)}
        for name, value in verdicts.items():
            cluster = self.detail_sums.setdefault(name, {}).setdefault(
                cluster_key(record.item, record.paraphrase), [0.0, 0])
            cluster[0] += value
            cluster[1] += 1
        for first, second in AGREEING_DETAILS:
            if first in verdicts and second in verdicts:
                counts = self.agreements.setdefault((first, second), [0, 0])
                counts[0] += 1
                counts[1] += (verdicts[first] >= 0.5) == (verdicts[second] >= 0.5)
        self.detail_counts.update(name for name in COUNTED_DETAILS if name in fields)
        for name in VALUE_DETAILS:
            if name in fields:
                values = self.detail_values.setdefault(name, Counter())
                value = detail_text(fields[name])
                values[value if value in values or len(values) < MAX_DETAIL_VALUES else OTHER_VALUE] += 1

    def _add_splits(self, record: rec.EvalRecord) -> None:
        assert self.splits is not None
        fields = record.details.fields
        for name, ordered_by in SPLIT_DETAILS.items():
            if name not in fields:
                continue
            folds = self.splits.setdefault(name, {})
            value = detail_text(fields[name])
            if value not in folds:
                if len(folds) >= MAX_SPLIT_VALUES:
                    value = OTHER_VALUE
                order = fields[ordered_by].number_value if ordered_by and ordered_by in fields else math.inf
                folds.setdefault(value, (order, _InstanceFold(self.suite, split=False)))
            folds[value][1].add(record)

    def _add_position(self, record: rec.EvalRecord) -> None:
        first, second = _options(record)
        by_letter: dict[str, float] = {}
        for token, prob in record.probs.items():
            letter = option_letter(token)
            by_letter[letter] = by_letter.get(letter, 0.0) + prob
        total = by_letter.get(first, 0.0) + by_letter.get(second, 0.0)
        if total > 0:
            self.positional_sum += by_letter.get(first, 0.0) / total
            self.n_positional += 1

    def _add_answer(self, answer: str) -> None:
        if answer in self.answers or len(self.answers) < MAX_DISTINCT_ANSWERS:
            self.answers[answer] += 1
        else:
            self.untracked_answers += 1

    def result(self) -> InstanceScores:
        clusters: dict[str, list[float]] = {}
        for (item, paraphrase, _), (total, count) in self.units.items():
            cluster = clusters.setdefault(cluster_key(item, paraphrase), [0.0, 0])
            cluster[0] += total / count
            cluster[1] += 1
        by_sample = len(clusters) == 1 and len(self.units) > 1
        if by_sample:
            clusters = {cluster_key(item, paraphrase, sample): [total / count, 1]
                        for (item, paraphrase, sample), (total, count) in self.units.items()}
        folded = _sorted_clusters(clusters)
        n_units = sum(folded.counts)
        return InstanceScores(
            suite=self.suite,
            mean=sum(folded.totals) / n_units if n_units else None,
            clusters=folded,
            n_records=self.n_records,
            n_scored=sum(order[1] for order in self.permutations.values()),
            dropped=dict(sorted(self.dropped.items())),
            permutations={p: PermutationScore(total / n, int(n))
                          for p, (total, n) in sorted(self.permutations.items())},
            two_option=self.two_option,
            p_first=self.positional_sum / self.n_positional if self.n_positional else None,
            n_positional=self.n_positional,
            answers=tuple(self.answers.most_common()),
            untracked_answers=self.untracked_answers,
            sample_clusters=by_sample,
            # sorted() is stable: values without an order keep the order they were first seen in
            splits={detail: {value: fold.result() for value, (_, fold) in sorted(folds.items(),
                                                                                  key=lambda item: item[1][0])}
                    for detail, folds in (self.splits or {}).items()},
            detail_means={name: _detail_mean(sums) for name, sums in self.detail_sums.items()},
            agreements={pair: Agreement(*counts) for pair, counts in self.agreements.items()},
            detail_counts=dict(self.detail_counts),
            detail_values={name: tuple(values.most_common()) for name, values in self.detail_values.items()},
        )


def detail_text(value: struct_pb2.Value) -> str:
    """A detail's value as the report names it: a string as is, a bool "true"/"false", a number as written."""
    kind = value.WhichOneof("kind")
    if kind == "bool_value":
        return "true" if value.bool_value else "false"
    if kind == "number_value":
        number = value.number_value
        return str(int(number)) if number.is_integer() else str(number)
    return value.string_value


def _detail_mean(sums: dict[str, list[float]]) -> DetailMean:
    clusters = _sorted_clusters(sums)
    return DetailMean(sum(clusters.totals) / sum(clusters.counts), clusters)


def _sorted_clusters(sums: dict[str, list[float]]) -> Clusters:
    """Cluster key -> [total, count] as `Clusters`, ordered by key: the same interval whatever order the records
    came in."""
    ordered = sorted(sums.items())
    return Clusters(tuple(k for k, _ in ordered), tuple(t for _, (t, _) in ordered),
                    tuple(int(n) for _, (_, n) in ordered))


def cluster_key(item: str, paraphrase: int, sample: int | None = None) -> str:
    """The cluster a unit belongs to (with `sample`: a one-wording instance's sample); the same key for every
    model asked the same question."""
    return f"{item}#{paraphrase}" + ("" if sample is None else f"#{sample}")


def _options(record: rec.EvalRecord) -> tuple[str, str]:
    """The record's first two option letters (`details.options`), else A and B."""
    if "options" in record.details.fields:
        letters = [option_letter(v.string_value) for v in record.details.fields["options"].list_value.values]
        if len(letters) >= 2 and all(letters[:2]):
            return letters[0], letters[1]
    return DEFAULT_OPTIONS


class RecordFold:
    """Accumulates record chunks per (model, suite instance); the caller does the I/O, one chunk at a time.

    Args:
        models: Every evaluated model, in report order; `results` keeps that order, and records of a model
            not listed here are an error rather than a silently separate model.
    """

    def __init__(self, models: Sequence[rec.ModelUnderTest]) -> None:
        self._models = {m.label: m for m in models}
        self._folds: dict[str, dict[str, _InstanceFold]] = {m.label: {} for m in models}

    def add_chunk(self, label: str, chunk: rec.RecordChunk) -> None:
        """Fold one stored chunk of model `label`'s records."""
        self.add_records(label, chunk.records)

    def add_records(self, label: str, records: Iterable[rec.EvalRecord]) -> None:
        if label not in self._folds:
            raise DataError(f"records of model {label!r}, which is not among the experiment's models")
        folds = self._folds[label]
        for record in records:
            instance = record.suite_instance or record.suite
            fold = folds.get(instance)
            if fold is None:
                fold = folds[instance] = _InstanceFold(record.suite or instance)
            fold.add(record)

    def results(self) -> list[ModelScores]:
        """Every model's scores, in the order the models were given (models without records included)."""
        return [ModelScores(label, m.base_index, m.arm, m.seed,
                            {instance: fold.result() for instance, fold in self._folds[label].items()}, m.epoch)
                for label, m in self._models.items()]
