"""The paper's Table 28: behaviour and self-report by training-set size and epochs, per policy.

An ablation is a spec whose arms differ in training rows and epochs (`examples/ablation.yaml`: arms
`n32-e1` ... `n128-e3`, built with `sample` steps and `training.epochs` overrides). Each arm's size is the rows
it was trained on (the dataset manifest's `train_rows`, else its `sample` step's `rows`), its epochs its
effective training setting, and its policy its `policy` attribute. The grid has one row per (size, epochs),
largest first as in the paper, and a cell per (instance, policy): that arm's group estimate. A spec whose arms
all share one (size, epochs), or where two arms of one policy share one, is no such grid.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from selfaware.params import struct_to_dict
from selfaware.specs import arm_training
from selfaware.v1 import spec_pb2
from services.aggregator.statistics import GroupEstimate, InstanceStatistics, group_label

#: (training rows, epochs); rows is None when neither the manifest nor a `sample` step says.
Setting = tuple[int | None, int]


@dataclass(frozen=True)
class AblationGrid:
    base_index: int
    #: Rows of the table: largest size first, then most epochs first.
    settings: list[Setting]
    #: Column groups, in spec order of their first arm ("" for arms without a policy).
    policies: list[str]
    #: Behaviour instances first, then self-reports, each in spec order.
    instances: list[InstanceStatistics]
    #: (instance id, policy, setting) -> the arm's estimate; cells without scores are absent.
    cells: dict[tuple[str, str, Setting], GroupEstimate]
    #: (policy, setting) -> the arm's name.
    arms: dict[tuple[str, Setting], str]
    #: Instance id -> the base model's estimate.
    base: dict[str, GroupEstimate]


def arm_settings(spec: spec_pb2.ExperimentSpec, train_rows: Mapping[str, int]) -> dict[str, Setting]:
    """Arm name -> (training rows, epochs)."""
    settings = {}
    for arm in spec.arms:
        rows = train_rows.get(arm.name)
        if rows is None:
            samples = [_sample_rows(step) for step in arm.data.steps if step.name == "sample"]
            rows = samples[-1] if samples else None
        settings[arm.name] = (rows, arm_training(spec, arm).epochs)
    return settings


def ablation_grids(spec: spec_pb2.ExperimentSpec, stats: Sequence[InstanceStatistics],
                   train_rows: Mapping[str, int]) -> list[AblationGrid]:
    """One grid per base model when the arms form a size × epochs ablation; else none."""
    settings = arm_settings(spec, train_rows)
    policy_of = {arm.name: arm.attributes.get("policy", "") for arm in spec.arms}
    if len(set(settings.values())) < 2:
        return []
    if len({(policy_of[a], s) for a, s in settings.items()}) < len(settings):
        return []  # two arms of one policy share a setting: the cells would be ambiguous
    ordered = sorted(set(settings.values()), key=lambda s: (-(s[0] or 0), -s[1]))
    policies = list(dict.fromkeys(policy_of[a.name] for a in spec.arms))
    scored = [s for s in stats if s.groups and s.kind.presentation != "distribution"]
    instances = ([s for s in scored if s.kind.cluster_unit == "items"]
                 + [s for s in scored if s.kind.cluster_unit != "items"])
    grids = []
    for base_index in range(len(spec.base_models)):
        cells, arms, base = {}, {}, {}
        for instance in instances:
            groups = {g.label: g for g in instance.groups}
            if (found := groups.get(group_label(spec, base_index))) is not None:
                base[instance.instance] = found
            for arm, setting in settings.items():
                arms[(policy_of[arm], setting)] = arm
                if (group := groups.get(group_label(spec, base_index, arm))) is not None:
                    cells[(instance.instance, policy_of[arm], setting)] = group
        if cells:
            grids.append(AblationGrid(base_index, ordered, policies, instances, cells, arms, base))
    return grids


def _sample_rows(step: spec_pb2.RecipeStep) -> int | None:
    """A `sample` step's rows: its `rows` parameter, or its shorthand value before validation moved it."""
    rows = struct_to_dict(step.params).get("rows")
    if rows is None and step.HasField("value") and step.value.HasField("number_value"):
        rows = step.value.number_value
    return int(rows) if isinstance(rows, (int, float)) else None
