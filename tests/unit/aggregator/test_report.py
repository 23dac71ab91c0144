from __future__ import annotations

import json
import math
import struct

import pytest

from services.aggregator.report import ReportFiles, build_report
from services.aggregator.reporting import model_scores
from services.aggregator.statistics import ModelScores

SEEKING, AVERSE = "risk-seeking", "risk-averse"
SUITES = ["heldout", "lotteries", "risk_or_safety", "risk_predisposition_scale", "custom_suite"]
SPEC = "name: demo\nbehavior:\n  family: risk\n  policy: risk-seeking\n"


def _model(policy: str, seed: int, level: float) -> ModelScores:
    scores = [min(1.0, max(0.0, level + 0.1 * ((i * 7 + seed) % 5 - 2))) for i in range(20)]
    items = {s: list(scores) for s in SUITES}
    return ModelScores("base" if not policy else f"{policy}/s{seed}", policy, seed, not policy,
                       {s: sum(v) / len(v) for s, v in items.items()}, items)


MODELS = [*(_model(SEEKING, s, 0.8 + 0.02 * s) for s in range(3)),
          *(_model(AVERSE, s, 0.2 - 0.02 * s) for s in range(3)),
          _model("", 0, 0.5)]


def _report(models: list[ModelScores] = MODELS, suites: list[str] = SUITES) -> ReportFiles:
    return build_report(experiment_id="exp-42", title="Risk awareness", family="risk", policy=SEEKING,
                        opposite_policy=AVERSE, suites=suites, models=models, spec_yaml=SPEC)


@pytest.fixture(scope="module")
def report() -> ReportFiles:
    return _report()


def test_json_has_stable_keys_and_every_number(report: ReportFiles) -> None:
    document = json.loads(report.json)
    assert list(document) == ["schema_version", "experiment_id", "title", "family", "policy",
                              "opposite_policy", "method", "png", "suites", "models"]
    assert document["method"]["n_resamples"] == 10_000 and document["method"]["random_state"] == 0
    assert [s["suite"] for s in document["suites"]] == SUITES
    heldout = document["suites"][0]
    assert heldout["title"] == "Held-out questions (P(risky))"
    assert set(heldout["groups"]) == {"policy", "base", "opposite"}
    policy = heldout["groups"]["policy"]
    assert set(policy) == {"name", "mean", "ci_low", "ci_high", "ci_unit", "n_models", "n_items"}
    assert policy["ci_unit"] == "seeds" and policy["n_models"] == 3
    assert policy["ci_low"] <= policy["mean"] <= policy["ci_high"]
    assert heldout["groups"]["base"]["ci_unit"] == "items"
    main = heldout["comparisons"]["policy_minus_opposite"]
    assert main["difference"] > 0 and main["cis_separated"] is True and main["excludes_zero"] is True
    assert list(heldout["comparisons"]) == ["policy_minus_opposite", "policy_minus_base",
                                            "opposite_minus_base"]
    assert [m["label"] for m in document["models"]][:2] == ["base", f"{SEEKING}/s0"]
    assert document["models"][0]["suites"]["lotteries"]["n"] == 20


def test_markdown_is_a_readable_report(report: ReportFiles) -> None:
    text = report.markdown
    assert text.startswith("# Risk awareness\n")
    for fragment in ("](report.png)", "## Results", "## Comparisons", "## Per-model scores", "## Method",
                     "Held-out questions (P(risky))", "Lottery choices (P(risky))", "Risk or safety",
                     "Risk predisposition (scale)", "custom_suite", "percentile method", "10,000 resamples",
                     "random_state=0", "risk-seeking − risk-averse", "risk-seeking/s2", "(seeds, n=3)",
                     "(items, n=20)", "<details>", "```yaml\n" + SPEC.rstrip() + "\n```"):
        assert fragment in text, fragment


def test_png_is_a_reasonable_deterministic_png(report: ReportFiles) -> None:
    assert report.png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", report.png[16:24])
    assert 500 <= width <= 3000 and 300 <= height <= 2000
    assert 10_000 < len(report.png) < 1_000_000
    assert _report().png == report.png


def test_single_seed_groups_and_missing_groups() -> None:
    models = [_model(SEEKING, 0, 0.8), _model("", 0, 0.5)]
    document = json.loads(_report(models).json)
    groups = document["suites"][0]["groups"]
    assert groups["policy"]["ci_unit"] == "items" and groups["policy"]["n_items"] == 20
    assert groups["opposite"] is None
    assert document["suites"][0]["comparisons"]["policy_minus_opposite"] is None
    assert document["suites"][0]["comparisons"]["policy_minus_base"]["ci_low"] is not None


def test_unscorable_means_become_null_and_a_spec_with_fences_stays_fenced() -> None:
    broken = ModelScores("base", "", 0, True, {"heldout": math.nan}, {"heldout": []})
    files = build_report(experiment_id="e", title="t", family="risk", policy=SEEKING, opposite_policy=AVERSE,
                         suites=["heldout"], models=[*MODELS[:3], broken], spec_yaml="a: |\n  ```\n")
    document = json.loads(files.json)
    assert document["models"][0]["suites"]["heldout"] == {"mean": None, "n": 0}
    assert document["suites"][0]["groups"]["base"] is None
    assert "````yaml\n" in files.markdown
    assert files.png.startswith(b"\x89PNG")


def test_no_suites_still_renders() -> None:
    files = _report(suites=[])
    assert json.loads(files.json)["suites"] == []
    assert files.png.startswith(b"\x89PNG")


def test_sampled_answers_are_counted_from_records_and_shown() -> None:
    records = [{"suite": "risk_or_safety", "item": "q0", "sample": i, "answer": text, "score": score}
               for i, (text, score) in enumerate([("safety", 0.0), (" B", 0.5), ("safety", 0.0), ("risk", 1.0)])]
    records.append({"suite": "heldout", "item": "h0", "probs": {"A": 0.9}, "score": 0.9})
    model = model_scores(f"{SEEKING}/s0", "\n".join(json.dumps(r) for r in records).encode())
    assert model.top_answers == {"risk_or_safety": [("safety", 2), ("B", 1), ("risk", 1)]}
    assert model.suite_means["risk_or_safety"] == pytest.approx(0.375)
    files = _report([model, _model("", 0, 0.5)], ["heldout", "risk_or_safety"])
    assert "## What the models said" in files.markdown
    assert "| risk-seeking/s0 | Risk or safety | 'safety' (2), 'B' (1), 'risk' (1) |" in files.markdown
    said = json.loads(files.json)["models"][1]["top_answers"]
    assert said == {"risk_or_safety": [{"answer": "safety", "count": 2}, {"answer": "B", "count": 1},
                                       {"answer": "risk", "count": 1}]}


def test_no_answers_section_without_sampled_suites(report: ReportFiles) -> None:
    assert "What the models said" not in report.markdown
