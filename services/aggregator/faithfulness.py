"""Does what a model says match what it does? Pearson r across finetuned models between a behaviour instance's
score and a self-report instance's score, as the paper's Figure 4 (risk predisposition vs lottery choices) and
across the arms of an ablation (Table 28).

Per base model and per pair (behaviour, self-report), r is computed over every finetuned model scored on both,
and, when the arms carry two or more `policy` attributes, within each policy's models too (the paper's
"within the risk-seeking cluster"): pooling two clusters far apart would report their separation, not
faithfulness. Every finetuned model counts, epoch checkpoints (`evaluation.checkpoints`) included: the paper's 42
points are seeds × learning rates × epochs. Base models are left out; they are the reference point, not a sample
of the training, and are kept beside the correlation as `base` (the figure marks it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from selfaware.v1 import spec_pb2
from services.aggregator.correlation import Correlation, pearson
from services.aggregator.record_fold import ModelScores
from services.aggregator.statistics import InstanceStatistics

#: The cluster of every finetuned model of a base model.
ALL_MODELS = "all"


@dataclass(frozen=True)
class Point:
    """One finetuned model: its self-report (x) and behaviour (y) scores, as Figure 4 plots them."""

    label: str
    self_report: float
    behaviour: float


@dataclass(frozen=True)
class Faithfulness:
    base_index: int
    #: Instance ids.
    behaviour: str
    self_report: str
    #: `ALL_MODELS` or a policy.
    cluster: str
    correlation: Correlation
    #: The models correlated, in report order.
    points: tuple[Point, ...]
    #: The base model's scores (x = self-report, y = behaviour), when it was evaluated on both.
    base: tuple[float, float] | None = None

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(p.label for p in self.points)


def faithfulness(spec: spec_pb2.ExperimentSpec, stats: Sequence[InstanceStatistics],
                 models: Sequence[ModelScores]) -> list[Faithfulness]:
    """Every defined correlation (three or more models, neither side constant), behaviour instances outer."""
    policy_of = {arm.name: arm.attributes.get("policy", "") for arm in spec.arms}
    policies = list(dict.fromkeys(p for p in policy_of.values() if p))
    clusters = [ALL_MODELS, *(policies if len(policies) >= 2 else [])]
    scored = [s for s in stats if s.groups and s.kind.presentation != "distribution"]
    behaviours = [s for s in scored if s.kind.cluster_unit == "items"]
    reports = [s for s in scored if s.kind.cluster_unit == "paraphrases"]
    found = []
    for base_index in range(len(spec.base_models)):
        tuned = [m for m in models if m.base_index == base_index and not m.is_base]
        bases = [m for m in models if m.base_index == base_index and m.is_base]
        for behaviour in behaviours:
            for report in reports:
                base = next(((r.mean, b.mean) for m in bases if (b := m.usable(behaviour.instance)) is not None
                             and (r := m.usable(report.instance)) is not None), None)
                for cluster in clusters:
                    points = [Point(m.label, r.mean, b.mean) for m in tuned
                              if cluster in (ALL_MODELS, policy_of.get(m.arm, ""))
                              and (b := m.usable(behaviour.instance)) is not None
                              and (r := m.usable(report.instance)) is not None]
                    result = pearson([p.self_report for p in points], [p.behaviour for p in points])
                    if result is not None:
                        found.append(Faithfulness(base_index, behaviour.instance, report.instance, cluster,
                                                  result, tuple(points), base))
    return found
