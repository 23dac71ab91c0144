"""The faithfulness study on epoch checkpoints (Figure 4): checkpoints are points of the correlation, not members
of their arm's group, and the scatter draws every point, each cluster's r and CI, and the base model."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats as scipy_stats

from selfaware.v1 import catalogue_pb2 as cat
from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import spec_pb2
from services.aggregator.faithfulness import ALL_MODELS, faithfulness
from services.aggregator.figures.scatter import scatter_figure
from services.aggregator.report_files import build_report
from services.aggregator.statistics import experiment_statistics
from services.aggregator.suite_info import suite_infos
from tests.unit.aggregator.records import fold, make_spec, two_option
from tests.unit.aggregator.self_reports import instance, number_records, suite_entry

RISKY, SAFE = "risk-seeking", "risk-averse"
CATALOGUE = [cat.Catalogue(service="evaluator", capabilities=[
    suite_entry("lotteries", "behaviour", "two_option"),
    suite_entry("risk_predisposition_scale", "self-report", "scale", family="risk"),
])]


def _spec() -> spec_pb2.ExperimentSpec:
    spec = make_spec([0, 1], [instance("lotteries", "lotteries"),
                              instance("risk_predisposition_scale", "risk_predisposition_scale")],
                     compare=[(RISKY, SAFE)])
    spec.training.epochs = 3
    spec.evaluation.checkpoints = True
    for arm in spec.arms:
        arm.attributes["policy"] = arm.name
    return spec


def _level(arm: str, seed: int, epoch: int) -> tuple[float, float]:
    """(behaviour, self-report) of a model: a risk level that grows with the epoch, reported a little noisily."""
    if arm == "base":
        return 0.5, 0.07
    trained = (epoch or 3) / 3
    behaviour = 0.5 + (0.45 if arm == RISKY else -0.4) * trained + 0.01 * seed
    report = (0.15 + 0.4 * trained if arm == RISKY else 0.02 + 0.12 * trained) + 0.02 * ((seed + epoch) % 2)
    return behaviour, report


def _records(behaviour: float, report: float) -> list[rec.EvalRecord]:
    lotteries = [two_option(f"pair{i}", {"A": behaviour, "B": 1 - behaviour}, "A", instance="lotteries")
                 for i in range(4)]
    return lotteries + number_records("risk_predisposition_scale", "risk_predisposition_scale",
                                      lambda p, s: str(round(report * 100)), paraphrases=2, samples=2)


def _models():  # type: ignore[no-untyped-def]
    spec = _spec()
    records = {"base": _records(*_level("base", 0, 0))}
    for arm in (RISKY, SAFE):
        for seed in (0, 1):
            for epoch in (1, 2, 0):
                label = f"{arm}/s{seed}" + (f"/e{epoch}" if epoch else "")
                records[label] = _records(*_level(arm, seed, epoch))
    return spec, fold(spec, records)


def test_arm_groups_are_the_final_models_and_faithfulness_counts_every_checkpoint() -> None:
    spec, models = _models()
    assert [m.label for m in models if m.arm == RISKY] == [
        "risk-seeking/s0/e1", "risk-seeking/s0/e2", "risk-seeking/s0", "risk-seeking/s1/e1", "risk-seeking/s1/e2",
        "risk-seeking/s1"]
    stats = experiment_statistics(spec, models, suite_infos(CATALOGUE))
    lotteries = next(s for s in stats if s.instance == "lotteries")
    risky = next(g for g in lotteries.groups if g.arm == RISKY)
    assert list(risky.models) == ["risk-seeking/s0", "risk-seeking/s1"]
    assert risky.mean == pytest.approx(np.mean([_level(RISKY, s, 0)[0] for s in (0, 1)]))

    found = {f.cluster: f for f in faithfulness(spec, stats, models)}
    assert set(found) == {ALL_MODELS, RISKY, SAFE}
    within = found[RISKY]
    assert within.correlation.n == 6 and "risk-seeking/s1/e1" in within.models
    expected = scipy_stats.pearsonr([p.self_report for p in within.points], [p.behaviour for p in within.points])
    assert within.correlation.r == pytest.approx(expected.statistic)
    for point in within.points:
        seed, epoch = int(point.label.split("/")[1][1:]), int(point.label.split("/e")[1]) if "/e" in point.label else 0
        behaviour, report = _level(RISKY, seed, epoch)
        assert (point.behaviour, point.self_report) == (pytest.approx(behaviour), pytest.approx(round(report * 100) / 100))
    assert within.base == (pytest.approx(0.07), pytest.approx(0.5))
    assert found[ALL_MODELS].correlation.n == 12


def test_the_scatter_draws_every_point_each_clusters_r_and_the_base_model() -> None:
    spec, models = _models()
    stats = experiment_statistics(spec, models, suite_infos(CATALOGUE))
    found = faithfulness(spec, stats, models)
    figure = scatter_figure(spec, found, 0, {s.instance: s.title for s in stats})
    (axes,) = figure.axes
    drawn = {c.get_label(): np.asarray(c.get_offsets()).ravel().tolist() for c in axes.collections}
    by_cluster = {f.cluster: f for f in found}
    for policy in (RISKY, SAFE):
        f = by_cluster[policy]
        label = next(name for name in drawn if name.startswith(f"{policy}: "))
        assert f"r = {f.correlation.r:.2f}" in label and f"n = {f.correlation.n}" in label
        assert f"[{f.correlation.ci.low:.2f}, {f.correlation.ci.high:.2f}]" in label
        assert drawn[label] == pytest.approx([v for p in f.points for v in (p.self_report, p.behaviour)])
    assert drawn["base model"] == pytest.approx([0.07, 0.5])
    assert "all finetuned models: r = " in axes.get_title()


def test_the_report_has_the_scatter_and_the_points_in_its_json() -> None:
    spec, models = _models()
    files = build_report("e1", spec, models, suite_infos(CATALOGUE))
    assert {"faithfulness.png", "faithfulness.svg"} <= set(files.figure_files())
    assert "](faithfulness.png)" in files.markdown
    document = json.loads(files.json)
    risky = next(f for f in document["faithfulness"] if f["cluster"] == RISKY)
    assert len(risky["points"]) == risky["n"] == 6
    assert risky["base"] == {"self_report": pytest.approx(0.07), "behaviour": pytest.approx(0.5)}
    epochs = {m["label"]: m["epoch"] for m in document["models"]}
    assert epochs["risk-seeking/s0/e2"] == 2 and epochs["risk-seeking/s0"] == 0
