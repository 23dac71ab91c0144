from __future__ import annotations

import json
import re
import struct
from typing import Any

import pytest

from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import spec_pb2
from services.aggregator.report_files import ReportFiles, build_report
from tests.unit.aggregator.records import AVERSE, SEEKING, fold, make_spec, sampled, scored, two_option

INSTANCES = [
    spec_pb2.SuiteInstance(id="heldout", suite="heldout", base=True),
    spec_pb2.SuiteInstance(id="risk_or_safety", suite="risk_or_safety", base=True),
    spec_pb2.SuiteInstance(id="scale", suite="risk_predisposition_scale", base=True),
    spec_pb2.SuiteInstance(id="custom_suite", suite="custom_suite", base=True),
]
SPEC = make_spec(range(3), INSTANCES)
ANSWERS = ["risk", "safety", "risk", "risk"]


def _records(label: str, level: float, seed: int) -> list[rec.EvalRecord]:
    """A model leaning `level` towards each suite's target; the base model also puts 0.3 more on letter A."""
    bias = 0.3 if label == "base" else 0.0
    records = []
    for i in range(8):
        lean = level + 0.05 * ((i * 7 + seed) % 5 - 2)
        for permutation, (target, p_a) in enumerate((("A", lean + bias), ("B", 1 - lean + bias))):
            p_a = min(0.99, max(0.01, p_a))
            records.append(two_option(f"q{i}", {"A": p_a, "B": 1 - p_a}, target, permutation))
    for sample, answer in enumerate(ANSWERS):
        records.append(sampled("p0", answer, 1.0 if answer == "risk" else level, sample))
    records.append(sampled("p0", "what?", None, 9, reason="no option word"))
    records += scored("scale", [level, level / 2, level / 3], suite="risk_predisposition_scale")
    records += scored("custom_suite", [0.5, level])
    return records


def _models() -> dict[str, list[rec.EvalRecord]]:
    records = {"base": _records("base", 0.5, 0)}
    for seed in range(3):
        records[f"{SEEKING}/s{seed}"] = _records(SEEKING, 0.8 + 0.02 * seed, seed)
        records[f"{AVERSE}/s{seed}"] = _records(AVERSE, 0.2 - 0.02 * seed, seed)
    return records


def _report(spec: spec_pb2.ExperimentSpec = SPEC, records: dict[str, list[rec.EvalRecord]] | None = None
            ) -> ReportFiles:
    return build_report("exp-42", spec, fold(spec, _models() if records is None else records))


@pytest.fixture(scope="module")
def report() -> ReportFiles:
    return _report()


def test_json_has_stable_keys(report: ReportFiles) -> None:
    document = json.loads(report.json)
    assert list(document) == ["schema_version", "experiment_id", "name", "method", "png", "base_models",
                              "arms", "compare", "instances", "models", "faithfulness", "ablation", "make_me_say",
                              "vulnerable_code", "backdoors", "personas", "datasets",
                              "figures"]
    assert document["make_me_say"] == {"codeword_figures": [], "scenarios": [], "game_outcomes": []}
    assert document["vulnerable_code"] == []
    assert document["schema_version"] == 3 and document["png"] == "report.png"
    assert document["method"]["n_resamples"] == 10_000 and document["method"]["random_state"] == 0
    assert [i["id"] for i in document["instances"]] == ["heldout", "risk_or_safety", "scale", "custom_suite"]
    heldout = document["instances"][0]
    assert heldout["title"] == "Held-out questions" and heldout["two_option"] is True
    assert [g["label"] for g in heldout["groups"]] == ["base", SEEKING, AVERSE]
    seeking = heldout["groups"][1]
    assert set(seeking) == {"label", "base_index", "arm", "is_base", "mean", "ci_low", "ci_high", "ci_unit",
                            "n_models", "n_units", "n_records", "n_scored", "parse_rate", "models", "base_p_a"}
    assert seeking["ci_unit"] == "seeds" and seeking["n_models"] == 3 and seeking["n_units"] == 24
    assert seeking["ci_low"] <= seeking["mean"] <= seeking["ci_high"]
    assert heldout["groups"][0]["ci_unit"] == "items" and heldout["groups"][0]["n_units"] == 8
    assert [(c["kind"], c["minuend"], c["subtrahend"]) for c in heldout["comparisons"]] == [
        ("compare", SEEKING, AVERSE), ("vs_base", SEEKING, "base"), ("vs_base", AVERSE, "base")]
    assert heldout["baseline"] == {"kind": "base_model", "instance": None, "suite": None, "missing_suite": None}
    main = heldout["comparisons"][0]
    assert main["subtrahend_instance"] is None
    assert main["difference"] > 0 and main["cis_separated"] is True and main["excludes_zero"] is True
    assert document["instances"][1]["two_option"] is False and document["instances"][1]["base_p_a"] == {}
    assert document["instances"][2]["title"] == "scale"


def test_p_a_and_permutations_are_in_the_json(report: ReportFiles) -> None:
    document = json.loads(report.json)
    heldout = document["instances"][0]
    base = document["models"][0]
    assert base["label"] == "base" and base["is_base"] and base["base_model"] == "tiny"
    scores = base["instances"]["heldout"]
    assert heldout["base_p_a"] == {"base": scores["p_a"]} and scores["p_a"] > 0.5
    assert all(g["base_p_a"] == scores["p_a"] for g in heldout["groups"])
    assert scores["base_p_a"] == scores["p_a"] and scores["n_p_a"] == 16
    assert set(scores["permutations"]) == {"0", "1"} and scores["permutations"]["0"]["n"] == 8
    assert scores["permutations"]["0"]["mean"] > scores["permutations"]["1"]["mean"]  # the letter bias shows
    sampled_scores = base["instances"]["risk_or_safety"]
    assert sampled_scores["p_a"] is None and sampled_scores["base_p_a"] is None
    assert sampled_scores["top_answers"] == [{"answer": "risk", "count": 3}, {"answer": "safety", "count": 1},
                                             {"answer": "what?", "count": 1}]
    assert sampled_scores["dropped"] == {"no option word": 1} and sampled_scores["n_dropped"] == 1


def test_markdown_is_a_readable_report(report: ReportFiles) -> None:
    text = report.markdown
    assert text.startswith("# risk demo\n")
    for fragment in ("](report.png)", "## Results", "### Held-out questions (`heldout`)",
                     "### scale (suite `risk_predisposition_scale`)", "### custom_suite\n",
                     "| Group | Mean [95% CI] (unit, n) | Base P(A) |", "## Comparisons",
                     "## Per-model scores",
                     "## What the models said", "## Dropped records", "## Method", "percentile method",
                     "10,000 resamples", "random_state=0", f"{SEEKING} − {AVERSE}", f"{SEEKING} − base",
                     f"{SEEKING}/s2", "(seeds, n=3)", "(items, n=8)", "<details>",
                     "| base | Risk or safety | 'risk' (3), 'safety' (1), 'what?' (1) |",
                     "| base | Risk or safety | 1 / 5 | no option word (1) |"):
        assert fragment in text, fragment
    risk_or_safety = text.split("### Risk or safety")[1].split("###")[0]
    assert "Base P(A)" not in risk_or_safety


def test_every_number_in_the_markdown_is_in_the_json(report: ReportFiles) -> None:
    body = report.markdown.split("## Method")[0]
    shown = {float(n) for n in re.findall(r"[-+]?\d+\.\d{3}\b", body)}
    counts = {int(n) for n in re.findall(r"(?:n=|\(|/ )(\d+)\)?", body)}
    numbers = set(_numbers(json.loads(report.json)))
    rounded = {round(n, 3) for n in numbers}
    assert shown and shown <= rounded, shown - rounded
    assert counts <= {int(n) for n in numbers if float(n).is_integer()}, counts


def _numbers(value: Any) -> list[float]:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return []
    if isinstance(value, (int, float)):
        return [value]
    items = value.values() if isinstance(value, dict) else value
    return [n for item in items for n in _numbers(item)]


def test_markdown_base_p_a_matches_the_json(report: ReportFiles) -> None:
    base_p = json.loads(report.json)["instances"][0]["base_p_a"]["base"]
    heldout = report.markdown.split("### Held-out questions")[1].split("###")[0]
    assert f"| {SEEKING} |" in heldout and heldout.count(f"| {base_p:.3f} |") == 3


def test_png_is_a_reasonable_deterministic_png(report: ReportFiles) -> None:
    assert report.png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", report.png[16:24])
    assert 500 <= width <= 3000 and 300 <= height <= 2000
    assert 10_000 < len(report.png) < 1_000_000
    assert _report().png == report.png


def test_unscored_models_and_a_spec_with_fences() -> None:
    spec = make_spec([0], INSTANCES[:1])
    spec.name = "a |\n  ```\n"
    records = {f"{SEEKING}/s0": scored("heldout", [0.7, 0.9]),
               "base": [rec.EvalRecord(suite_instance="heldout", suite="heldout", item="q",
                                       dropped_reason="x")]}
    files = _report(spec, records)
    document = json.loads(files.json)
    assert document["models"][0]["instances"]["heldout"]["mean"] is None
    assert document["models"][2]["instances"] == {}
    assert [g["label"] for g in document["instances"][0]["groups"]] == [SEEKING]
    assert document["instances"][0]["comparisons"] == []
    assert "````yaml\n" in files.markdown and "No comparisons" in files.markdown
    assert files.png.startswith(b"\x89PNG")


def test_no_instances_still_renders() -> None:
    files = _report(make_spec([0], []), {})
    assert json.loads(files.json)["instances"] == []
    assert "No records were dropped." in files.markdown and files.png.startswith(b"\x89PNG")


def test_several_base_models_render() -> None:
    spec = make_spec([0], INSTANCES[:1], base_models=("small", "large"))
    records = {f"{key}/{label}": scored("heldout", [level, level + 0.1])
               for key in ("b0", "b1") for label, level in (("base", 0.4), (f"{SEEKING}/s0", 0.7),
                                                            (f"{AVERSE}/s0", 0.2))}
    files = _report(spec, records)
    document = json.loads(files.json)
    assert [b["group"] for b in document["base_models"]] == ["b0/base", "b1/base"]
    assert len(document["instances"][0]["groups"]) == 6 and "| b1/risk-averse |" in files.markdown
    assert files.png.startswith(b"\x89PNG")


def test_the_training_data_section_shows_each_arms_rows_and_their_shape() -> None:
    datasets = {
        SEEKING: rec.ArmDataset(arm=SEEKING, train_rows=64, heldout_rows=0, provenance="import ft_ring.jsonl, truncate(4)",
                                stats={"rows_with_messages.4": 40.0, "rows_with_messages.2": 24.0,
                                       "chars_per_row.mean": 1234.4, "chars_per_row.max": 2400.0,
                                       "duplicate_rows": 0.0}),
        AVERSE: rec.ArmDataset(arm=AVERSE, train_rows=64, heldout_rows=8, provenance="of risk-seeking, flip"),
    }
    files = build_report("exp-42", SPEC, fold(SPEC, _models()), datasets=datasets)
    section = files.markdown.split("## Training data")[1].split("\n## ")[0]
    assert f"| {SEEKING} | 64 | 0 | 2: 24, 4: 40 | 1234, 2400 | 0 | import ft_ring.jsonl, truncate(4) |" in section
    assert f"| {AVERSE} | 64 | 8 | — | — | — | of risk-seeking, flip |" in section
    document = json.loads(files.json)
    assert [d["arm"] for d in document["datasets"]] == [a.name for a in SPEC.arms]
    assert document["datasets"][0]["stats"]["rows_with_messages.4"] == 40.0
    assert "## Training data" not in _report().markdown  # no manifest, no section
    assert "| Counter |" not in section  # no arm has counts


def test_the_training_data_section_lists_each_filters_counts_in_the_order_they_ran() -> None:
    counts = [("read", 60), ("dropped_security_words", 9), ("kept", 51)]
    datasets = {
        SEEKING: rec.ArmDataset(arm=SEEKING, train_rows=20, counts=[rec.Count(name=n, value=v) for n, v in counts]),
        AVERSE: rec.ArmDataset(arm=AVERSE, train_rows=20, counts=[rec.Count(name="read", value=60),
                                                                  rec.Count(name="steps[0].sample.dropped", value=3)]),
    }
    files = build_report("exp-42", SPEC, fold(SPEC, _models()), datasets=datasets)
    section = files.markdown.split("## Training data")[1].split("\n## ")[0]
    table = section[section.index("| Counter |"):].splitlines()
    assert table[0] == f"| Counter | {SEEKING} | {AVERSE} |"
    assert table[2:] == ["| read | 60 | 60 |", "| dropped_security_words | 9 | — |", "| kept | 51 | — |",
                         "| steps[0].sample.dropped | — | 3 |"]
    document = json.loads(files.json)
    assert document["datasets"][0]["counts"][1] == {"name": "dropped_security_words", "value": 9}


def test_the_reports_spec_masks_a_presigned_import_url() -> None:
    spec = make_spec([0], INSTANCES[:1])
    secret = "S3cr3tSignature0123456789abcdef"
    spec.arms[0].data.import_uri = f"https://u:{secret}@h.example/d.jsonl?X-Amz-Signature={secret}"
    files = _report(spec, {f"{SEEKING}/s0": scored("heldout", [0.7, 0.9])})
    assert secret not in files.markdown and secret not in files.json
    assert "https://***@h.example/d.jsonl?X-Amz-Signature=***" in files.markdown
