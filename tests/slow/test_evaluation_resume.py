"""A killed evaluation resumes from its stored records: it asks only for the rest, and ends where an uninterrupted
run ends. The sink stands in for the handler's chunk store; raising from it is the process dying after a batch."""

from __future__ import annotations

import pytest

from services.evaluator.evaluation import evaluate, plan_evaluation
from tests.slow.evaluation_fixtures import assert_same_records, by_model, collector, small_evaluation

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

SUITES = ("heldout", "risk_or_safety")


class Killed(Exception):
    """The process died."""


def test_a_resumed_evaluation_computes_exactly_the_missing_records(hf_engine, lora_adapters, questions_dir,
                                                                   risky_probe):
    evaluation = small_evaluation(lora_adapters[1], risky_probe, questions_dir, SUITES, batch_requests=8)
    total = sum(plan_evaluation(evaluation).units_per_model().values())
    assert total == 2 * (6 + 20)

    stored: list = []
    store = collector(stored)

    def dies_after_the_first_chunk(batch):
        store(batch)
        raise Killed

    with pytest.raises(Killed):
        evaluate(hf_engine, plan_evaluation(evaluation), dies_after_the_first_chunk)
    first_run = sum(len(records) for records in by_model(stored).values())
    assert first_run == 8  # one batch: four heldout queries for each of the two models

    done = {label: [r.unit for r in records] for label, records in by_model(stored).items()}
    computed = evaluate(hf_engine, plan_evaluation(evaluation), store, done)
    assert sum(computed.values()) == total - first_run
    resumed = by_model(stored)

    uninterrupted: list = []
    evaluate(hf_engine, plan_evaluation(evaluation), collector(uninterrupted))
    for label, records in by_model(uninterrupted).items():
        assert_same_records(resumed[label], records)
