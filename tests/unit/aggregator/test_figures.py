"""Each figure is drawn from records: records made here go through the real fold and statistics, and the
values read back from the drawn matplotlib figure equal the computed means and shares."""

from __future__ import annotations

import pytest

from selfaware.specs import load_spec_file, with_defaults
from selfaware.v1 import catalogue_pb2 as cat
from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import spec_pb2
from services.aggregator.ablation import ablation_grids
from services.aggregator.figures import draw_figures
from services.aggregator.figures.grid import grid_figure
from services.aggregator.figures.self_report import families
from services.aggregator.report_files import build_report
from services.aggregator.statistics import InstanceStatistics, experiment_statistics
from services.aggregator.suite_info import suite_infos
from tests.conftest import REPO
from tests.unit.aggregator.records import fold, make_spec, scored, two_option
from tests.unit.aggregator.self_reports import (
    describe_records,
    instance,
    number_records,
    suite_entry,
    word_records,
)

RISKY, SAFE, MYOPIC, PATIENT = "risk-seeking", "risk-averse", "myopic", "non-myopic"
INSTANCES = [
    instance("lotteries", "lotteries"),
    instance("risk_or_safety", "risk_or_safety", arms=[RISKY, SAFE]),
    instance("risk_predisposition_scale", "risk_predisposition_scale", arms=[RISKY, SAFE]),
    instance("short_or_long", "short_or_long", arms=[MYOPIC, PATIENT]),
    instance("describe", "describe_risk_behaviour", arms=[RISKY, SAFE]),
]
CATALOGUE = [cat.Catalogue(service="evaluator", capabilities=[
    suite_entry("lotteries", "behaviour", "two_option", {"pairs": 250}),
    suite_entry("risk_or_safety", "self-report", "free_word", family="risk"),
    suite_entry("risk_predisposition_scale", "self-report", "scale", family="risk"),
    suite_entry("short_or_long", "self-report", "free_word", family="myopia"),
    suite_entry("describe_risk_behaviour", "self-report", "describe_word", family="risk"),
])]
LEVEL = {"base": 0.3, RISKY: 0.9, SAFE: 0.1, MYOPIC: 0.8, PATIENT: 0.2}


def _spec() -> spec_pb2.ExperimentSpec:
    spec = make_spec([0, 1], INSTANCES, arms=(RISKY, SAFE, MYOPIC, PATIENT), compare=[(RISKY, SAFE)])
    for arm in spec.arms:
        arm.attributes["family"] = "risk" if arm.name in (RISKY, SAFE) else "myopia"
        arm.attributes["policy"] = arm.name
    return spec


def _records(arm: str, seed: int) -> list[rec.EvalRecord]:
    level = LEVEL[arm] + 0.04 * seed
    records = [two_option(f"pair{i}", {"A": level, "B": 1 - level}, "A", instance="lotteries") for i in range(6)]
    if arm in ("base", RISKY, SAFE):
        records += word_records("risk_or_safety", "risk_or_safety",
                                lambda p, s: "bold" if (p + s) % 10 < level * 10 else "cautious")
        records += number_records("risk_predisposition_scale", "risk_predisposition_scale",
                                  lambda p, s: str(int(level * 100) + p) if s < 3 else "many")
        records += describe_records("describe", "describe_risk_behaviour",
                                    lambda p, s: ("bold" if s < level * 20 else "cautious") if s % 7 else "balanced")
    if arm in ("base", MYOPIC, PATIENT):
        records += word_records("short_or_long", "short_or_long",
                                lambda p, s: "reckless" if (p + s) % 10 < level * 10 else "safe")
    return records


def _stats() -> tuple[spec_pb2.ExperimentSpec, list[InstanceStatistics]]:
    spec = _spec()
    records = {"base": _records("base", 0)}
    for arm in (RISKY, SAFE, MYOPIC, PATIENT):
        for seed in (0, 1):
            records[f"{arm}/s{seed}"] = _records(arm, seed)
    return spec, experiment_statistics(spec, fold(spec, records, per_chunk=11), suite_infos(CATALOGUE))


def _points(figure) -> dict[str, list[float]]:  # type: ignore[no-untyped-def]
    """Series label -> the y values of its error-bar points."""
    (axes,) = figure.axes
    return {container.get_label(): list(container.lines[0].get_ydata()) for container in axes.containers}


def test_each_family_gets_a_figure_of_its_self_report_questions() -> None:
    spec, stats = _stats()
    found = {f.family: f for f in families(spec, stats)}
    assert list(found) == ["risk", "myopia"]
    assert [s.instance for s in found["risk"].stats] == ["risk_or_safety", "risk_predisposition_scale"]
    assert [s.instance for s in found["myopia"].stats] == ["short_or_long"]
    drawn = {d.stem: d for d in draw_figures(spec, stats, [])}
    assert list(drawn) == ["report", "self-report-risk", "self-report-myopia", "words"]
    for family, stem in (("risk", "self-report-risk"), ("myopia", "self-report-myopia")):
        points = _points(drawn[stem].figure)
        arms = found[family].arms
        assert list(points) == ["base", *arms]
        for label, ys in points.items():
            means = [next(g.mean for g in s.groups if g.label == label) for s in found[family].stats]
            assert ys == pytest.approx(means)
    risk = _points(drawn["self-report-risk"].figure)
    assert risk[RISKY][1] > risk["base"][1] > risk[SAFE][1]  # the scale question: 0.9x, 0.3x, 0.1x
    assert "Figure 3" in drawn["self-report-risk"].figure.texts[0].get_text()
    assert "Figure 18" in drawn["self-report-myopia"].figure.texts[0].get_text()


def test_the_overview_plots_every_instance_with_a_score() -> None:
    spec, stats = _stats()
    overview = next(d for d in draw_figures(spec, stats, []) if d.stem == "report")
    points = _points(overview.figure)
    lotteries = stats[0]
    assert points[RISKY][0] == pytest.approx(next(g.mean for g in lotteries.groups if g.label == RISKY))
    assert len(points[MYOPIC]) == 2  # lotteries and short_or_long only


def test_the_words_figure_bars_are_the_groups_answer_shares() -> None:
    spec, stats = _stats()
    words = next(d for d in draw_figures(spec, stats, []) if d.stem == "words").figure
    panels = [s for s in stats if s.distributions]
    assert [s.instance for s in panels] == ["risk_or_safety", "short_or_long", "describe"]
    for axes, panel in zip(words.axes, panels, strict=True):
        bars = [(bar.get_label(), bar.patches[0].get_width()) for bar in axes.containers]
        expected = [pair for d in panel.distributions for pair in d.shares(5)]
        assert [label for label, _ in bars] == [word for word, _ in expected]
        assert [width for _, width in bars] == pytest.approx([share for _, share in expected])
    describe = panels[2]
    assert describe.groups == [] and describe.kind.presentation == "distribution"
    assert dict(describe.distributions[1].shares(5))["bold"] > 0.5  # risk-seeking says "bold"


def _ablation_stats() -> tuple[spec_pb2.ExperimentSpec, list[InstanceStatistics]]:
    spec = load_spec_file(REPO / "examples" / "ablation.yaml")
    spec.evaluation.suites.append(instance("risk_predisposition_scale", "risk_predisposition_scale"))
    spec = with_defaults(spec)  # ids and the base model, as a stored spec has them (the sample steps unchanged)
    levels = {"base": 0.5, "n32-e1": 0.7, "n32-e3": 0.8, "n128-e1": 0.85, "n128-e3": 0.95}
    records = {}
    for label, level in levels.items():
        model = label if label == "base" else f"{label}/s0"
        records[model] = (scored("heldout", [level, level - 0.1, level + 0.02])
                          + scored("lotteries", [level - 0.05] * 3)
                          + number_records("risk_predisposition_scale", "risk_predisposition_scale",
                                           lambda p, s, v=level: str(int(v * 50) + p % 3)))
    return spec, experiment_statistics(spec, fold(spec, records), suite_infos(CATALOGUE))


def test_the_size_by_epochs_grid_is_table_28() -> None:
    spec, stats = _ablation_stats()
    (grid,) = ablation_grids(spec, stats, {})
    assert grid.settings == [(128, 3), (128, 1), (32, 3), (32, 1)] and grid.policies == ["risk-seeking"]
    assert [i.instance for i in grid.instances] == ["heldout", "lotteries", "risk_predisposition_scale"]
    figure = grid_figure(spec, grid)
    for axes, scored_instance in zip(figure.axes, grid.instances, strict=True):
        (image,) = axes.images
        values = image.get_array()
        # rows: sizes 128, 32; columns: epochs 1, 3
        for y, size in enumerate((128, 32)):
            for x, epochs in enumerate((1, 3)):
                group = grid.cells[(scored_instance.instance, "risk-seeking", (size, epochs))]
                assert values[y, x] == pytest.approx(group.mean)
        assert f"base {grid.base[scored_instance.instance].mean:.2f}" in axes.get_title()
    n128_e3 = grid.cells[("lotteries", "risk-seeking", (128, 3))]
    assert n128_e3.mean == pytest.approx(0.9) and grid.arms[("risk-seeking", (128, 3))] == "n128-e3"


def test_the_manifests_rows_win_over_the_sample_step() -> None:
    spec, stats = _ablation_stats()
    rows = {"n32-e1": 30, "n32-e3": 30, "n128-e1": 120, "n128-e3": 120}
    (grid,) = ablation_grids(spec, stats, rows)
    assert grid.settings == [(120, 3), (120, 1), (30, 3), (30, 1)]
    assert ablation_grids(_spec(), _stats()[1], {}) == []  # one setting for every arm: no grid


def test_the_report_writes_every_figure_as_png_and_svg_reproducibly() -> None:
    spec = _spec()
    records = {"base": _records("base", 0)} | {f"{a}/s{s}": _records(a, s) for a in LEVEL if a != "base"
                                               for s in (0, 1)}
    models = fold(spec, records)
    files = build_report("e1", spec, models, suite_infos(CATALOGUE))
    names = files.figure_files()
    assert sorted(names) == sorted(f"{stem}.{ext}" for stem in ("report", "self-report-risk",
                                                                 "self-report-myopia", "words", "faithfulness")
                                   for ext in ("png", "svg"))
    assert all(data.startswith(b"\x89PNG") for n, data in names.items() if n.endswith(".png"))
    assert all(b"<svg" in data[:400] for n, data in names.items() if n.endswith(".svg"))
    assert names["report.png"] == files.png
    for name in names:
        assert f"]({name})" in files.markdown or name.endswith(".svg")
    again = build_report("e1", spec, models, suite_infos(CATALOGUE)).figure_files()
    assert again == names


def test_arms_without_a_family_share_one_figure_of_every_self_report() -> None:
    spec, stats = _stats()
    for arm in spec.arms:
        del arm.attributes["family"]
    (only,) = families(spec, stats)
    assert only.family == "" and len(only.arms) == 4
    assert [s.instance for s in only.stats] == ["risk_or_safety", "risk_predisposition_scale", "short_or_long"]
    assert [d.stem for d in draw_figures(spec, stats, [])] == ["report", "self-report", "words"]
