"""Which score each suite instance is compared with: the base model's on the same instance (the paper's
baseline, spec §4.4: "non-finetuned model asked the same question"), or, where the evaluator's catalogue names a
`baseline` suite, the SAME model's score on an instance of that suite ("How close to your goals?" against "The
user never said", f(codeword) against f(unrelated word), f(message) against another model's messages).

The baseline instance is the spec's first instance of the named suite that asks about the same subject (the
`codeword` parameter, when both instances have one), preferring one whose other shared parameters agree too.
When the spec has none, the report says so and keeps the base model as the instance's baseline.

A same-model difference is paired as the report pairs everything else: a group with several seeds by model (the
same models answered both questions: `bootstrap.paired_seeds_ci`), a one-model group on the clusters both
questions share. Two suites name their items after themselves (`<suite>/<paraphrase>`), so the clusters are
matched on the rest of the key: the same paraphrase (or, for the function suites, the same generations) of the
two questions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from selfaware.params import struct_to_dict
from selfaware.v1 import spec_pb2
from services.aggregator.bootstrap import Clusters
from services.aggregator.suite_info import SuiteInfo

#: Parameters that say what a question is about: a baseline instance must agree on them.
SUBJECT_PARAMS = ("codeword",)

BaselineKind = Literal["base_model", "same_model"]


@dataclass(frozen=True)
class Baseline:
    """What one instance's scores are compared with."""

    kind: BaselineKind = "base_model"
    #: With `same_model`: the baseline instance and its suite.
    instance: str = ""
    suite: str = ""
    #: The catalogue's named baseline suite when the spec has no instance of it ("" otherwise); the base model
    #: is the baseline then.
    missing: str = ""

    @property
    def same_model(self) -> bool:
        return self.kind == "same_model"


#: The paper's baseline unless noted: the base model on the same instance.
BASE_MODEL = Baseline()


def resolve_baselines(spec: spec_pb2.ExperimentSpec, suites: Mapping[str, SuiteInfo]) -> dict[str, Baseline]:
    """Instance id -> its baseline, for every instance of `spec`."""
    found = {}
    for instance in spec.evaluation.suites:
        info = suites.get(instance.suite)
        named = info.baseline if info else ""
        if not named:
            found[instance.id] = BASE_MODEL
            continue
        match = _baseline_instance(spec, instance, named)
        found[instance.id] = (Baseline("same_model", match.id, match.suite) if match is not None
                              else Baseline(missing=named))
    return found


def _baseline_instance(spec: spec_pb2.ExperimentSpec, instance: spec_pb2.SuiteInstance, suite: str
                       ) -> spec_pb2.SuiteInstance | None:
    params = struct_to_dict(instance.params)
    candidates = []
    for other in spec.evaluation.suites:
        if other.suite != suite or other.id == instance.id:
            continue
        theirs = struct_to_dict(other.params)
        shared = params.keys() & theirs.keys()
        if any(params[name] != theirs[name] for name in SUBJECT_PARAMS if name in shared):
            continue
        candidates.append((any(params[name] != theirs[name] for name in shared), other))
    return min(candidates, key=lambda pair: pair[0])[1] if candidates else None


def question_clusters(clusters: Clusters, suite: str) -> Clusters:
    """`clusters` keyed without the suite's own item prefix, so two suites' same paraphrases share a key."""
    prefix = f"{suite}/"
    return Clusters(tuple(key.removeprefix(prefix) for key in clusters.keys), clusters.totals, clusters.counts)
