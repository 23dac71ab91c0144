"""`evaluate_models` end to end with the transformers engine on the tiny model, small numbers."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from selfaware.errors import Cancelled
from services.evaluator.evaluation import EvaluationPlan, evaluate_models

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

SUITES = ("heldout", "lotteries", "risk_or_safety", "risk_predisposition_scale")


@pytest.fixture(scope="module")
def plan(questions_dir, risky_probe) -> EvaluationPlan:
    return EvaluationPlan(suites=SUITES, samples_per_paraphrase=2, temperature=1.0, lottery_pairs=5,
                          questions_uri=str(questions_dir), seed=3, probe=risky_probe)


def test_evaluate_base_and_adapter_together(hf_engine, lora_adapters, plan):
    calls = []
    base, tuned = evaluate_models(hf_engine, [None, lora_adapters[0]], plan, progress=lambda *a: calls.append(a))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    for result in (base, tuned):
        counts = {suite: sum(r["suite"] == suite for r in result.records) for suite in SUITES}
        assert counts == {"heldout": 3, "lotteries": 5, "risk_or_safety": 20, "risk_predisposition_scale": 20}
        assert [s.suite for s in result.scores] == list(SUITES)
        for score in result.scores:
            assert score.n + score.dropped == counts[score.suite]
            assert math.isnan(score.mean) if score.n == 0 else 0.0 <= score.mean <= 1.0
        for record in result.records:
            assert record["score"] is None or 0.0 <= record["score"] <= 1.0
    assert base.records != tuned.records

    # Batching two models together must not change a model's answers (per-request seeds).
    (alone,) = evaluate_models(hf_engine, [None], replace(plan, suites=("lotteries", "risk_or_safety")))
    assert alone.records == [r for r in base.records if r["suite"] in ("lotteries", "risk_or_safety")]


def test_cancel_is_checked_before_each_suite(hf_engine, plan):
    with pytest.raises(Cancelled):
        evaluate_models(hf_engine, [None], plan, should_stop=lambda: True)
