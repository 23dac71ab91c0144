"""`evaluate` end to end with the transformers engine on the tiny model, small numbers."""

from __future__ import annotations

import math

import pytest

from services.evaluator.evaluation import evaluate, plan_evaluation, summarize
from tests.slow.evaluation_fixtures import (
    assert_same_records,
    by_model,
    collector,
    small_evaluation,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

SUITES = ("heldout", "lotteries", "risk_or_safety", "risk_predisposition_scale")


def test_evaluate_base_and_adapter_together(hf_engine, lora_adapters, questions_dir, risky_probe):
    probe = risky_probe
    evaluation = small_evaluation(lora_adapters[0], probe, questions_dir)
    batches: list = []
    computed = evaluate(hf_engine, plan_evaluation(evaluation), collector(batches))
    records = by_model(batches)
    # heldout: 3 items x 2 orders; lotteries: 4; self-reports: 10 paraphrases x 2 samples
    assert computed == {"base": 50, "tuned": 50}
    for label, model_records in records.items():
        counts = {suite: sum(r.suite == suite for r in model_records) for suite in SUITES}
        assert counts == {"heldout": 6, "lotteries": 4, "risk_or_safety": 20, "risk_predisposition_scale": 20}
        scores = summarize(SUITES, model_records)
        assert [s.suite for s in scores] == list(SUITES)
        for score in scores:
            assert score.n + score.dropped == counts[score.suite]
            assert math.isnan(score.mean) if score.n == 0 else 0.0 <= score.mean <= 1.0
        for record in model_records:
            assert record.model == label and record.engine == "hf" and record.unit
            assert record.HasField("score") != bool(record.dropped_reason)
            assert bool(record.probs) == (record.suite in ("heldout", "lotteries"))
            assert bool(record.output) or record.suite in ("heldout", "lotteries") or record.dropped_reason
    assert [r.probs for r in records["base"][:6]] != [r.probs for r in records["tuned"][:6]]
    held = records["base"][:2]
    assert [(r.item, r.permutation) for r in held] == [("risky/0", 0), ("risky/0", 1)]
    assert held[0].target != held[1].target and held[0].prompt[0].content != held[1].prompt[0].content

    # Batching with another model, or in smaller calls, must not change a model's answers (per-request seeds).
    alone: list = []
    evaluate(hf_engine, plan_evaluation(small_evaluation(None, probe, questions_dir, ("lotteries", "risk_or_safety"),
                                                         batch_requests=3)), collector(alone))
    want = [r for r in records["base"] if r.suite in ("lotteries", "risk_or_safety")]
    assert_same_records(by_model(alone)["base"], want)
