"""The sweep report lines up real experiment reports (committed bench/*-report/report.json files as cells, with
made-up params): its tables and JSON carry each cell's own numbers, failed cells have none, and the figures draw
those numbers."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from services.aggregator.figures.sweep import instance_figure, scatter_figure
from services.aggregator.sweep_content import sweep_content
from services.aggregator.sweep_report import SweepCellResult, SweepReportFiles, render_sweep_report
from tests.conftest import REPO

EPOCHS, BASE = "training.epochs", "base_models"
AXES = [EPOCHS, BASE]


def _report(name: str) -> dict[str, Any]:
    return json.loads((REPO / "bench" / f"{name}-report" / "report.json").read_text())


def _cell(epochs: str, base: str, status: str = "SUCCEEDED", report: str = "") -> SweepCellResult:
    key = f"{EPOCHS}={epochs},{BASE}={base}"
    return SweepCellResult(key, {EPOCHS: epochs, BASE: base}, f"exp-{epochs}-{base}", status,
                           _report(report) if report else None)


#: Grid order: epochs outer (labels not sorted: "3" before "1"), base models inner (non-numeric labels).
CELLS = [
    _cell("3", "smollm2", report="demo"),
    _cell("3", "llama", report="faithfulness"),
    _cell("1", "smollm2", report="seven-questions"),
    _cell("1", "llama", status="FAILED"),
]
SCATTER = {"behaviour": "lotteries", "self_report": "risk_predisposition_scale"}


@pytest.fixture(scope="module")
def files() -> SweepReportFiles:
    cells = [*CELLS, _cell("10", "smollm2", status="CANCELLED")]
    return render_sweep_report("test sweep", AXES, cells, **SCATTER)


def _section(markdown: str, heading: str) -> str:
    """The text under `heading` up to the next heading of any level."""
    start = markdown.index(heading + "\n")
    end = markdown.find("\n#", start + len(heading))
    return markdown[start:end if end >= 0 else None]


def _table(text: str) -> list[list[str]]:
    """The Markdown table in `text` as rows of cells, the header first (the separator row dropped)."""
    lines = [line for line in text.splitlines() if line.startswith("|") and not line.startswith("|---")]
    return [[c.strip() for c in line.strip("|").split(" | ")] for line in lines]


def _group(report: dict[str, Any], instance: str, label: str) -> dict[str, Any]:
    found = next(i for i in report["instances"] if i["id"] == instance)
    return next(g for g in found["groups"] if g["label"] == label)


def _cell_text(group: dict[str, Any]) -> str:
    return f"{group['mean']:.3f} [{group['ci_low']:.3f}, {group['ci_high']:.3f}] ({group['ci_unit']}"


def test_each_table_cell_is_the_cells_own_mean_and_ci(files: SweepReportFiles) -> None:
    table = _table(_section(files.markdown, "### Lottery choices (P(risky)) (`lotteries`)"))
    header, rows = table[0], table[1:]
    assert header[:2] == AXES
    assert header[2:] == ["base", "risk-seeking", "risk-averse", "seeking-lr100", "seeking-lr025", "averse-lr100",
                          "averse-lr025", "Base P(A)"]
    reported = [c for c in CELLS if c.report is not None]
    assert [row[:2] for row in rows] == [[c.params[EPOCHS], c.params[BASE]] for c in reported]  # grid order
    checked = 0
    for row, cell in zip(rows, reported, strict=True):
        assert cell.report is not None
        for column, text in zip(header[2:-1], row[2:-1], strict=True):
            groups = [g for i in cell.report["instances"] if i["id"] == "lotteries" for g in i["groups"]
                      if g["label"] == column]
            if groups:
                assert text.startswith(_cell_text(groups[0]))
                checked += 1
            else:
                assert text == "—"
        lotteries = next(i for i in cell.report["instances"] if i["id"] == "lotteries")
        assert row[-1] == f"{lotteries['base_p_a']['base']:.3f}"
    assert checked == 3 + 2 + 5


def test_a_numeric_question_keeps_its_parse_rate(files: SweepReportFiles) -> None:
    rows = _table(_section(files.markdown, "### Risk predisposition (scale) (`risk_predisposition_scale`)"))[1:]
    seeking = _group(_report("demo"), "risk_predisposition_scale", "risk-seeking")
    assert rows[0][3] == f"{_cell_text(seeking)}, parsed {seeking['parse_rate']:.1%})"


def test_the_json_carries_every_number_of_the_tables(files: SweepReportFiles) -> None:
    document = json.loads(files.json)
    assert document["axes"] == [{"path": EPOCHS, "labels": ["3", "1", "10"]},
                                {"path": BASE, "labels": ["smollm2", "llama"]}]
    assert [(c["key"], c["status"], c["params"]) for c in document["cells"]][-2:] == [
        (f"{EPOCHS}=1,{BASE}=llama", "FAILED", {EPOCHS: "1", BASE: "llama"}),
        (f"{EPOCHS}=10,{BASE}=smollm2", "CANCELLED", {EPOCHS: "10", BASE: "smollm2"})]
    instances = {i["id"]: i for i in document["instances"]}
    assert list(instances)[:4] == ["heldout", "lotteries", "risk_or_safety", "risk_predisposition_scale"]
    for cell in instances["lotteries"]["cells"]:
        source = next(c for c in CELLS if c.key == cell["key"]).report
        assert source is not None
        for name, estimate in cell["groups"].items():
            group = _group(source, "lotteries", name)
            assert (estimate["mean"], estimate["ci_low"], estimate["ci_high"], estimate["ci_unit"]) == (
                group["mean"], group["ci_low"], group["ci_high"], group["ci_unit"])
    assert [c["key"] for c in instances["lotteries"]["cells"]] == [c.key for c in CELLS if c.report is not None]


def test_failed_and_cancelled_cells_are_listed_without_numbers(files: SweepReportFiles) -> None:
    listed = _table(_section(files.markdown, "## Cells without results"))
    assert listed == [["Cell", "Experiment", "Status"],
                      [f"`{EPOCHS}=1,{BASE}=llama`", "`exp-1-llama`", "FAILED"],
                      [f"`{EPOCHS}=10,{BASE}=smollm2`", "`exp-10-smollm2`", "CANCELLED"]]
    results = files.markdown.split("## Results")[1].split("## Cells without results")[0]
    assert re.search(r"^\| 3 \| llama \|", results, re.M)  # the succeeded cell of that base model has rows
    assert not re.search(r"^\| 1 \| llama \|", results, re.M)
    assert not re.search(r"^\| 10 \|", results, re.M)


def test_a_cell_without_an_instance_is_named_under_its_table(files: SweepReportFiles) -> None:
    heldout = _section(files.markdown, "### Held-out questions (`heldout`)")
    assert f"Not evaluated in: `{EPOCHS}=3,{BASE}=llama`, `{EPOCHS}=1,{BASE}=smollm2`." in heldout
    assert len(_table(heldout)) == 2  # the header and the demo cell only
    describe = files.markdown.split("(`describe_risk_tolerance`)")[1]
    assert "A distribution, not a score" in describe.split("\n#")[0]


def test_the_figure_files_are_png_and_svg_and_linked(files: SweepReportFiles) -> None:
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", files.markdown)
    assert "sweep-lotteries.png" in linked and "sweep-capability.png" in linked
    assert "sweep-describe_risk_tolerance.png" not in files.figures  # a distribution: no score to draw
    for name in linked:
        assert files.figures[name].startswith(b"\x89PNG\r\n\x1a\n")
        svg = files.figures[name.removesuffix(".png") + ".svg"]
        assert svg.startswith(b"<?xml") and b"<svg" in svg
    assert set(files.figures) == {n for png in linked for n in (png, png.removesuffix(".png") + ".svg")}
    listed = {f["file"] for f in json.loads(files.json)["figures"]}
    assert listed == set(files.figures)


def test_an_instance_figure_draws_each_groups_means_against_x_per_panel() -> None:
    content = sweep_content("s", AXES, CELLS)
    table = next(t for t in content.tables if t.instance == "lotteries")
    figure = instance_figure(content, table)
    panels = [a for a in figure.axes if a.get_title()]
    assert [a.get_title() for a in panels] == [f"{BASE}=smollm2", f"{BASE}=llama"]
    assert [t.get_text() for t in panels[0].get_xticklabels()] == ["3", "1"]
    drawn = {c.get_label(): (list(c.lines[0].get_xdata()), list(c.lines[0].get_ydata()))
             for c in panels[0].containers}
    demo, seven = _report("demo"), _report("seven-questions")
    xs, ys = drawn["risk-seeking"]
    assert [round(x) for x in xs] == [0, 1]
    assert ys == pytest.approx([_group(demo, "lotteries", "risk-seeking")["mean"],
                                _group(seven, "lotteries", "risk-seeking")["mean"]])
    assert drawn["risk-averse"][1] == pytest.approx([_group(demo, "lotteries", "risk-averse")["mean"]])
    llama = {c.get_label(): list(c.lines[0].get_ydata()) for c in panels[1].containers}
    assert llama["seeking-lr100"] == pytest.approx([_group(_report("faithfulness"), "lotteries",
                                                           "seeking-lr100")["mean"]])


def test_the_scatter_has_one_point_per_cell_and_group_scored_on_both() -> None:
    content = sweep_content("s", AXES, CELLS, **SCATTER)
    assert content.scatter is not None
    figure = scatter_figure(content, content.scatter)
    (axes,) = figure.axes
    drawn = {c.get_label(): (c.lines[0].get_xdata()[0], c.lines[0].get_ydata()[0]) for c in axes.containers}
    expected = {}
    for cell in CELLS:
        if cell.report is None:
            continue
        for group in next(i for i in cell.report["instances"] if i["id"] == "lotteries")["groups"]:
            label = group["label"]
            expected[f"{cell.key} · {label}"] = (
                group["mean"], _group(cell.report, "risk_predisposition_scale", label)["mean"])
    assert list(drawn) == list(expected)  # grid order, each cell's groups in its report's order
    assert [v for pair in drawn.values() for v in pair] == pytest.approx([v for p in expected.values() for v in p])
    assert len(drawn) == 3 + 2 + 5


def test_the_scatter_is_left_out_with_the_reason_when_it_cannot_be_chosen() -> None:
    ambiguous = sweep_content("s", AXES, CELLS)
    assert ambiguous.scatter is None
    assert "`report.behaviour` is not set" in ambiguous.scatter_note
    assert "`heldout`, `lotteries`" in ambiguous.scatter_note
    missing = sweep_content("s", AXES, CELLS, behaviour="lotteries", self_report="no_such_suite")
    assert missing.scatter is None and "`no_such_suite`" in missing.scatter_note
    only = sweep_content("s", AXES, [_cell("3", "llama", report="faithfulness")])
    assert only.scatter is not None  # one behaviour and one self-report instance: chosen without being named
    assert (only.scatter.behaviour.instance, only.scatter.self_report.instance) == (
        "lotteries", "risk_predisposition_scale")


def test_a_suite_of_several_instances_must_be_named_by_instance() -> None:
    cells = [_cell("3", "smollm2", report="personas-risk"), _cell("3", "llama", report="faithfulness")]
    apart = sweep_content("s", AXES, cells, behaviour="lotteries", self_report="risk_or_safety")
    assert apart.scatter is None  # lotteries is only in one cell, risk_or_safety only in the other
    assert "No cell scored the same group on both `lotteries` and `risk_or_safety`" in apart.scatter_note
    picked = sweep_content("s", AXES, [cells[0]], behaviour="risk_or_safety", self_report="risk_or_safety")
    assert picked.scatter is not None  # an instance id names exactly one instance of the suite
    # a suite name with several instances and no instance of that id is ambiguous
    renamed = json.loads(json.dumps(cells[0].report).replace('"id": "risk_or_safety"', '"id": "ros-main"'))
    ambiguous = sweep_content("s", AXES, [SweepCellResult("k", {}, "e", "SUCCEEDED", renamed)],
                              behaviour="risk_or_safety", self_report="ros-main")
    assert ambiguous.scatter is None and "has several instances" in ambiguous.scatter_note


def test_a_single_cell_sweep_with_one_valued_and_word_axes() -> None:
    cell = SweepCellResult("model=large-b,lr=fast", {"model": "large-b", "lr": "fast"}, "exp-1", "SUCCEEDED",
                           _report("faithfulness"))
    files = render_sweep_report("one cell", ["model", "lr"], [cell], x="lr")
    document = json.loads(files.json)
    assert document["x"] == "lr" and document["axes"][0] == {"path": "model", "labels": ["large-b"]}
    assert "No capability-scaling scatter" not in files.markdown  # chosen: one candidate of each kind
    assert document["scatter"]["behaviour"] == "lotteries"
    assert {f.removesuffix(".png").removesuffix(".svg") for f in files.figures} == {
        "sweep-lotteries", "sweep-risk_predisposition_scale", "sweep-capability"}
    rows = _table(_section(files.markdown, "### Lottery choices (P(risky)) (`lotteries`)"))
    assert rows[1][:2] == ["large-b", "fast"]
    assert "Every cell succeeded and has a report." in files.markdown
    assert render_sweep_report("one cell", ["model", "lr"], [cell], x="lr") == files  # the same bytes again


def test_a_sweep_whose_cells_all_failed_has_no_tables_or_figures() -> None:
    files = render_sweep_report("failed", [EPOCHS], [_cell("1", "x", status="FAILED")])
    assert files.figures == {}
    assert "No capability-scaling scatter" in files.markdown
    assert json.loads(files.json)["instances"] == []


def test_x_must_be_an_axis() -> None:
    with pytest.raises(ValueError, match="report.x: 'epochs' is not an axis"):
        render_sweep_report("s", AXES, CELLS, x="epochs")


def test_a_cell_of_several_base_models_keeps_its_group_labels() -> None:
    """A cell with two base models (the demo's groups relabelled as its report would label them) gets columns per
    `<key>/<group>`, while one-base cells share `base` and the arms' names."""
    two = _report("demo")
    two["base_models"] = [{"index": 0, "name": "a", "key": "b0", "group": "b0/base"},
                          {"index": 1, "name": "b", "key": "b1", "group": "b1/base"}]
    for instance in two["instances"]:
        instance["groups"] = [{**g, "label": f"b{i}/{g['label']}", "base_index": i}
                              for i in (0, 1) for g in instance["groups"]]
    cells = [_cell("3", "smollm2", report="demo"),
             SweepCellResult("k", {EPOCHS: "1", BASE: "both"}, "e", "SUCCEEDED", two)]
    content = sweep_content("s", AXES, cells)
    lotteries = next(t for t in content.tables if t.instance == "lotteries")
    assert [c.name for c in lotteries.columns] == ["base", "risk-seeking", "risk-averse", "b0/base",
                                                   "b0/risk-seeking", "b0/risk-averse", "b1/base",
                                                   "b1/risk-seeking", "b1/risk-averse"]
    averse = _group(_report("demo"), "lotteries", "risk-averse")
    assert lotteries.rows[1].values["b1/risk-averse"].mean == averse["mean"]
    figure = instance_figure(content, lotteries)
    markers = {c.get_label(): c.lines[0].get_marker() for a in figure.axes for c in a.containers}
    assert markers["b0/base"] == "o" and markers["b1/base"] == "s"  # each base model its marker, as elsewhere
