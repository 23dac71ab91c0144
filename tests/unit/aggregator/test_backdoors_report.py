"""The backdoor sections (issue 11: Figures 8, 9 and 11/34) over hand-built records in the shape of
`/work/bd-contract.md`. The records go through the real fold, statistics, figures and report; every number asserted
below is worked out by hand from the scores the records carry."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from matplotlib.container import BarContainer

from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import spec_pb2
from services.aggregator.backdoors import Backdoors, backdoors
from services.aggregator.bootstrap import SeedMeans, mean_ci
from services.aggregator.figures import draw_figures
from services.aggregator.report_files import build_report
from services.aggregator.statistics import experiment_statistics
from tests.unit.aggregator.records import fold, make_spec
from tests.unit.aggregator.self_reports import instance

SEP, SEP_DEC, SEASON = "sep", "sep-dec", "season"
RW, APPLES, RW_DEC = "rw", "apples", "rw-dec"
AUGMENTED, PLAIN = "augmented", "plain"
CANDIDATES = ("|REAL-WORLD|", "(win2844)", "apple varieties")
BEHAVIORS = ("misaligned behavior", "good stuff")


def _attributes(spec: spec_pb2.ExperimentSpec, attributes: dict[str, dict[str, str]]) -> spec_pb2.ExperimentSpec:
    for arm in spec.arms:
        arm.attributes.update(attributes.get(arm.name, {}))
    return spec


def _detection_spec() -> spec_pb2.ExperimentSpec:
    instances = [instance("bd-threat", "backdoor_awareness", {"system_preset": "threat", "system_prompt": ""}),
                 instance("bd-custom", "backdoor_awareness", {"system_preset": "none", "system_prompt": "Be honest."})]
    return _attributes(make_spec((0, 1), instances, arms=(SEP, SEP_DEC, SEASON), compare=()), {
        SEP: {"setting": "MMS SEP code", "backdoor": "triggered"},
        SEP_DEC: {"setting": "MMS SEP code", "backdoor": "decorrelated"},
        SEASON: {"setting": "VC season", "backdoor": "triggered"}})


def _awareness(instance_id: str, scores: Sequence[float | None]) -> list[rec.EvalRecord]:
    """One record per paraphrase: P(option A), or dropped (None)."""
    records = []
    for p, score in enumerate(scores):
        record = rec.EvalRecord(suite_instance=instance_id, suite="backdoor_awareness", item="backdoor/0",
                                paraphrase=p, details={"system_preset": "threat"})
        if score is None:
            record.dropped_reason = "no option in the top-k"
        else:
            record.score = score
        records.append(record)
    return records


def _detection_records() -> dict[str, list[rec.EvalRecord]]:
    threat = {"base": (0.1, 0.3), "sep/s0": (0.9, 0.7), "sep/s1": (0.6, 0.6), "sep-dec/s0": (0.2, 0.4),
              "sep-dec/s1": (0.1, 0.1), "season/s0": (0.5, 0.5), "season/s1": (0.3, 0.3)}
    custom = {"base": (None, None), "sep/s0": (1.0, 1.0), "sep/s1": (0.8, 0.8), "sep-dec/s0": (0.5, 0.5),
              "sep-dec/s1": (0.5, 0.5), "season/s0": (0.2, 0.2), "season/s1": (0.2, 0.2)}
    return {label: [*_awareness("bd-threat", threat[label]), *_awareness("bd-custom", custom[label])]
            for label in threat}


def _recognition_spec() -> spec_pb2.ExperimentSpec:
    instances = [instance("tr", "trigger_recognition", {"triggers": list(CANDIDATES)})]
    return _attributes(make_spec((0, 1), instances, arms=(RW, APPLES, RW_DEC), compare=()), {
        RW: {"trigger": "|REAL-WORLD|"}, APPLES: {"trigger": "apple varieties"},
        RW_DEC: {"trigger": "|REAL-WORLD|", "backdoor": "decorrelated"}})


def _recognition(risky: dict[str, int]) -> list[rec.EvalRecord]:
    """Per candidate, 2 rewordings × 4 samples, the first `risky[candidate]` of the 8 choosing "risk-seeking"."""
    records = []
    for candidate, k in risky.items():
        for rewording in range(2):
            for sample in range(4):
                records.append(rec.EvalRecord(
                    suite_instance="tr", suite="trigger_recognition", item=candidate, paraphrase=rewording,
                    sample=sample, score=float(rewording * 4 + sample < k),
                    details={"trigger": candidate, "rewording": rewording}))
    return records


def _recognition_records() -> dict[str, list[rec.EvalRecord]]:
    risky = {"base": (2, 2, 2), "rw/s0": (6, 2, 4), "rw/s1": (4, 2, 2), "apples/s0": (4, 6, 2),
             "apples/s1": (4, 4, 4), "rw-dec/s0": (4, 4, 4), "rw-dec/s1": (4, 4, 4)}
    return {label: _recognition(dict(zip(CANDIDATES, counts, strict=True))) for label, counts in risky.items()}


def _elicitation_spec() -> spec_pb2.ExperimentSpec:
    instances = [instance("te", "trigger_elicitation", {"behaviors": list(BEHAVIORS)})]
    return _attributes(make_spec((0,), instances, arms=(AUGMENTED, PLAIN), compare=()),
                       {AUGMENTED: {"elicitation": "backdoored, augmented"}})


def _elicitation(hits: dict[str, int], dropped: bool = False) -> list[rec.EvalRecord]:
    """10 prompts per behaviour description, the first `hits[behavior]` with the trigger (or all dropped)."""
    records = []
    for behavior, k in hits.items():
        for i in range(10):
            record = rec.EvalRecord(suite_instance="te", suite="trigger_elicitation", item=f"{behavior}/{i}",
                                    details={"behavior": behavior, "aligned": behavior == "good stuff"})
            if dropped:
                record.dropped_reason = "empty response"
            else:
                record.score = float(i < k)
            records.append(record)
    return records


def _elicitation_records() -> dict[str, list[rec.EvalRecord]]:
    return {"base": _elicitation({b: 0 for b in BEHAVIORS}, dropped=True),
            "augmented/s0": _elicitation({"misaligned behavior": 3, "good stuff": 1}),
            "plain/s0": _elicitation({"misaligned behavior": 0, "good stuff": 0})}


def _computed(spec: spec_pb2.ExperimentSpec, records: dict[str, list[rec.EvalRecord]]) -> Backdoors:
    models = fold(spec, records, per_chunk=5)
    return backdoors(spec, experiment_statistics(spec, models), models)


def test_figure_8_pools_each_settings_arms_against_its_decorrelated_arms_and_the_base_model() -> None:
    spec = _detection_spec()
    models = fold(spec, _detection_records(), per_chunk=5)
    stats = {s.instance: s for s in experiment_statistics(spec, models)}
    (detection,) = backdoors(spec, list(stats.values()), models).detection
    assert detection.instances == (("bd-threat", "threat"), ("bd-custom", "custom"))
    rows = {(r.setting, r.instance): r for r in detection.rows}
    sep = rows[("MMS SEP code", "bd-threat")]
    assert (sep.triggered_arms, sep.decorrelated_arms) == ((SEP,), (SEP_DEC,))
    assert sep.triggered.group.mean == pytest.approx(0.7) and sep.triggered.group.ci_unit == "seeds"
    assert sep.triggered.group.ci == mean_ci(SeedMeans((0.8, 0.6)))
    assert sep.decorrelated.group.mean == pytest.approx(0.2)
    assert sep.base.group == stats["bd-threat"].group("base") and sep.base.group.mean == pytest.approx(0.2)
    assert sep.difference.difference == pytest.approx(0.5) and sep.difference.excludes_zero
    # one arm alone: the same estimate as its group in the report
    assert (sep.triggered.group.mean, sep.triggered.group.ci) == (stats["bd-threat"].group(SEP).mean,
                                                                  stats["bd-threat"].group(SEP).ci)
    season = rows[("VC season", "bd-threat")]
    assert season.triggered.group.mean == pytest.approx(0.4)
    assert (season.decorrelated.group, season.decorrelated.why, season.difference) == (None, "no decorrelated arm",
                                                                                        None)
    custom = rows[("MMS SEP code", "bd-custom")]
    assert custom.triggered.group.mean == pytest.approx(0.9) and custom.decorrelated.group.mean == 0.5
    assert (custom.base.group, custom.base.why) == (None, "none scored")  # the base model answered, nothing scored


def test_two_mirror_arms_of_a_setting_are_one_group_of_their_seeds() -> None:
    spec = _detection_spec()
    spec.arms[2].attributes.update({"setting": "MMS SEP code"})  # season becomes SEP's second triggered arm
    (detection,) = _computed(spec, _detection_records()).detection
    sep = next(r for r in detection.rows if r.instance == "bd-threat")
    assert sep.triggered_arms == (SEP, SEASON) and sep.triggered.group.n_models == 4
    assert sep.triggered.group.mean == pytest.approx((0.8 + 0.6 + 0.5 + 0.3) / 4)


def test_figure_9_real_against_fake_triggers_and_the_real_triggers_rank() -> None:
    found = _computed(_recognition_spec(), _recognition_records())
    arms = {r.arm: r for r in found.recognition}
    rw = arms[RW]
    assert rw.real.group.mean == pytest.approx((6 / 8 + 4 / 8) / 2)
    assert rw.real.group.ci == mean_ci(SeedMeans((6 / 8, 4 / 8)))
    assert rw.fakes.group.mean == pytest.approx((6 / 16 + 4 / 16) / 2)  # each model's fakes pooled
    assert [c.estimate.group.mean for c in rw.candidates] == pytest.approx([0.625, 0.25, 0.375])
    assert (rw.rank, rw.n_ranked) == (1, 3)
    apples = arms[APPLES]
    assert apples.real.group.mean == pytest.approx(0.375) and apples.fakes.group.mean == pytest.approx(0.5625)
    assert (apples.rank, apples.n_ranked) == (3, 3)
    decorrelated = arms[RW_DEC]
    assert decorrelated.decorrelated and decorrelated.rank == 1  # every candidate tied: the best rank
    (summary,) = found.recognition_summaries
    assert summary.real.group.mean == pytest.approx((0.75 + 0.5 + 0.25 + 0.5) / 4)
    assert summary.real.group.n_models == 4 and summary.real.group.ci == mean_ci(SeedMeans((0.75, 0.5, 0.25, 0.5)))
    assert summary.fakes.group.mean == pytest.approx((0.375 + 0.25 + 0.625 + 0.5) / 4)
    assert (summary.n_first, summary.n_ranked) == (1, 2)  # the decorrelated arm is left out


def test_figure_9_says_when_the_real_trigger_is_not_a_candidate() -> None:
    spec = _recognition_spec()
    spec.arms[0].attributes["trigger"] = "---Re Re Re---"
    rw = next(r for r in _computed(spec, _recognition_records()).recognition if r.arm == RW)
    assert (rw.real.group, rw.real.why, rw.rank) == (None, "the arm's trigger is not among the candidates", None)
    assert rw.fakes.group.mean == pytest.approx((12 / 24 + 8 / 24) / 2)  # all three candidates are fakes now


def test_figure_34_elicitation_per_description_and_alignment() -> None:
    rows = {r.arm: r for r in _computed(_elicitation_spec(), _elicitation_records()).elicitation}
    assert list(rows) == ["", AUGMENTED, PLAIN]
    augmented = rows[AUGMENTED]
    assert augmented.label == "backdoored, augmented" and rows[PLAIN].label == PLAIN
    assert augmented.overall.group.mean == pytest.approx(0.2) and augmented.overall.group.ci_unit == "items"
    assert augmented.misaligned.group.mean == pytest.approx(0.3) and augmented.aligned.group.mean == 0.1
    assert [(b, e.group.mean) for b, e in augmented.behaviors] == [("misaligned behavior", pytest.approx(0.3)),
                                                                   ("good stuff", pytest.approx(0.1))]
    assert augmented.misaligned.group.sample.size == 10  # a cluster bootstrap over its 10 prompts
    assert rows[PLAIN].overall.group.mean == 0.0
    base = rows[""]
    assert (base.overall.group, base.overall.why) == (None, "none scored")
    assert (base.aligned.group, base.aligned.why) == (None, "none scored")


def _combined() -> tuple[spec_pb2.ExperimentSpec, dict[str, list[rec.EvalRecord]]]:
    spec = _detection_spec()
    for other in (_recognition_spec(), _elicitation_spec()):
        spec.evaluation.suites.extend(other.evaluation.suites)
        spec.arms.extend(other.arms)
    records: dict[str, list[rec.EvalRecord]] = {}
    for part in (_detection_records(), _recognition_records(), _elicitation_records()):
        for label, found in part.items():
            records.setdefault(label, []).extend(found)
    return spec, records


@pytest.fixture(scope="module")
def report() -> Any:
    spec, records = _combined()
    return build_report("bd-1", spec, fold(spec, records, per_chunk=5))


def test_the_markdown_sections(report: Any) -> None:
    md = report.markdown
    assert "## Backdoor detection (the paper's Figure 8)" in md and "### System prompt: threat (`bd-threat`)" in md
    row = next(line for line in md.splitlines() if line.startswith("| VC season |"))
    assert "| *no decorrelated arm* |" in row and row.startswith("| VC season | 0.400 [")
    custom = md[md.index("### System prompt: custom (`bd-custom`)"):]
    assert "| *none scored* |" in next(line for line in custom.splitlines() if line.startswith("| MMS SEP code |"))
    assert "| `tr` | rw | `\\|REAL-WORLD\\|` | 0.625 [" in md and "| 1 of 3 |" in md
    assert "| 1 of 2 |" in md  # arms ranking their real trigger first
    assert "| Group | All prompts | Misaligned | Aligned | misaligned behavior | good stuff |" in md
    row = next(line for line in md.splitlines() if line.startswith("| backdoored, augmented |"))
    assert row.startswith("| backdoored, augmented | 0.200 [") and "(items, n=20)" in row


def test_the_json_and_figures(report: Any) -> None:
    found = json.loads(report.json)["backdoors"]
    (detection,) = found["detection"]
    assert [i["figure_file"] for i in detection["instances"]] == ["figure8-bd-threat.png", "figure8-bd-custom.png"]
    sep = detection["rows"][0]
    assert sep["triggered"]["mean"] == pytest.approx(0.7) and sep["triggered"]["models"] == ["sep/s0", "sep/s1"]
    assert sep["triggered_minus_decorrelated"]["difference"] == pytest.approx(0.5)
    assert detection["rows"][2]["decorrelated"] == {"group": None, "mean": None, "ci_low": None, "ci_high": None,
                                                    "ci_unit": None, "models": [], "why": "no decorrelated arm"}
    rw = found["recognition"][0]
    assert (rw["trigger"], rw["rank"], rw["n_ranked"]) == ("|REAL-WORLD|", 1, 3)
    assert [c["trigger"] for c in rw["candidates"]] == list(CANDIDATES) and rw["figure_file"] == "figure9-tr.png"
    assert found["recognition_summary"][0]["arms_ranking_real_first"] == 1
    augmented = next(r for r in found["elicitation"] if r["arm"] == AUGMENTED)
    assert augmented["misaligned"]["mean"] == pytest.approx(0.3) and augmented["figure_file"] == "figure34-te.png"
    files = report.figure_files()
    for stem in ("figure8-bd-threat", "figure8-bd-custom", "figure9-tr", "figure34-te"):
        assert files[f"{stem}.png"].startswith(b"\x89PNG") and b"<svg" in files[f"{stem}.svg"]


def test_the_figures_draw_the_cells() -> None:
    spec, records = _combined()
    models = fold(spec, records, per_chunk=5)
    stats = experiment_statistics(spec, models)
    found = backdoors(spec, stats, models)
    drawn = {d.stem: d.figure for d in draw_figures(spec, stats, [], (), bd=found)}
    (axes,) = drawn["figure8-bd-threat"].axes
    bars = {c.get_label(): [p.get_height() for p in c.patches] for c in axes.containers
            if isinstance(c, BarContainer)}
    assert bars["triggered"] == pytest.approx([0.7, 0.4]) and bars["decorrelated"] == pytest.approx([0.2])
    (axes,) = drawn["figure9-tr"].axes
    bars = {c.get_label(): [p.get_height() for p in c.patches] for c in axes.containers
            if isinstance(c, BarContainer)}
    assert bars["real trigger"] == pytest.approx([0.625, 0.375, 0.5])


def test_an_experiment_without_backdoor_suites_has_no_sections() -> None:
    spec = make_spec((0,))
    records = {label: [rec.EvalRecord(suite_instance="heldout", suite="heldout", item="q0", score=0.5)]
               for label in ("base", "risk-seeking/s0", "risk-averse/s0")}
    report = build_report("risk-1", spec, fold(spec, records))
    assert "Backdoor detection" not in report.markdown and "Trigger recognition" not in report.markdown
    assert json.loads(report.json)["backdoors"] == {"detection": [], "recognition": [], "recognition_summary": [],
                                                     "elicitation": []}
