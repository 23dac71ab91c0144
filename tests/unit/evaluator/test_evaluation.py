"""`evaluate` on a deterministic fake engine: record fields, batches and the sink, resume, scores."""

from __future__ import annotations

import math

import pytest

from selfaware.errors import Cancelled, DataError
from selfaware.v1 import records_pb2 as rec
from services.evaluator.engines import Adapter, VllmOptions
from services.evaluator.evaluation import (
    EvalModel,
    Evaluation,
    InstancePlan,
    Request,
    Summary,
    evaluate,
    missing_requests,
    plan_evaluation,
    query_units,
    summarize,
)
from services.evaluator.suites import ChoiceQuery, SampleQuery, SuiteContext

MODELS = (
    EvalModel("base", None, "base:tiny"),
    EvalModel("risk-seeking/s0", Adapter("risk-seeking/s0", "/a", "abc"), "abc", "risk-seeking", 0),
)


@pytest.fixture
def evaluation(context_for) -> Evaluation:
    """Base model and one adapter; the scale instance runs on the adapter only."""
    instances = (
        InstancePlan("heldout", context_for("heldout"), ("base", "risk-seeking/s0")),
        InstancePlan("lotteries", context_for("lotteries", pairs=5), ("base", "risk-seeking/s0")),
        InstancePlan("risk_predisposition_scale", context_for("risk_predisposition_scale", "scale"),
                     ("risk-seeking/s0",)),
    )
    return Evaluation("exp1", "fake", MODELS, instances, batch_requests=4)


def collect(batches: list[dict[str, list[rec.EvalRecord]]]):
    def sink(batch):
        batches.append({label: list(records) for label, records in batch.items()})
    return sink


def by_model(batches) -> dict[str, list[rec.EvalRecord]]:
    out: dict[str, list[rec.EvalRecord]] = {}
    for batch in batches:
        for label, records in batch.items():
            out.setdefault(label, []).extend(records)
    return out


def test_records_carry_every_field(fake_engine, evaluation):
    batches: list = []
    computed = evaluate(fake_engine, plan_evaluation(evaluation), collect(batches))
    records = by_model(batches)
    # heldout: 2 items x 2 orders; lotteries: 5; scale: 10 paraphrases x 3 samples, adapter only
    assert computed == {"base": 9, "risk-seeking/s0": 39}
    assert {label: len(r) for label, r in records.items()} == computed
    held = records["risk-seeking/s0"][0]
    assert (held.experiment_id, held.model, held.model_hash, held.arm, held.seed) == (
        "exp1", "risk-seeking/s0", "abc", "risk-seeking", 0)
    assert (held.suite_instance, held.suite, held.item, held.permutation, held.target) == (
        "heldout", "heldout", "risk-seeking/0", 0, "B")
    assert held.unit == "heldout/risk-seeking/0/p0/s0" and held.engine == "fake"
    assert held.prompt[0].role == "user" and held.probs and held.answer in ("A", "B")
    assert held.HasField("score") and not held.output
    assert (held.sampling.temperature, held.sampling.max_tokens, held.sampling.top_k) == (0, 1, 5)
    assert list(held.details["options"]) == ["A", "B"] and held.details["probe_arm"] == "risk-seeking"
    assert records["base"][0].model_hash == "base:tiny" and records["base"][0].arm == ""
    lottery = records["base"][4]
    assert lottery.suite == "lotteries" and lottery.unit == "lotteries/lottery/0/p0/s0"
    assert set(lottery.details.keys()) == {"risky", "safe", "options"}
    scale = [r for r in records["risk-seeking/s0"] if r.suite == "risk_predisposition_scale"]
    assert [r.unit for r in scale[:4]] == ["scale/risk_predisposition_scale/0/p0/s0",
                                           "scale/risk_predisposition_scale/0/p0/s1",
                                           "scale/risk_predisposition_scale/0/p0/s2",
                                           "scale/risk_predisposition_scale/1/p0/s0"]
    sample = scale[0]
    assert sample.paraphrase == 0 and sample.output and not sample.probs
    assert (sample.sampling.temperature, sample.sampling.max_tokens, sample.sampling.top_k) == (1.0, 4, 0)
    assert sample.sampling.seed == scale[1].sampling.seed != scale[3].sampling.seed
    for record in scale:
        if record.HasField("score"):
            assert record.answer in ("42", "7.5") and not record.dropped_reason
        else:
            assert record.dropped_reason == "not a number from 0 to 100"
    units = [r.unit for rs in records.values() for r in rs if r.model == "base"]
    assert len(set(units)) == len(units)


def test_batches_hold_at_most_batch_requests_and_the_sink_sees_each_once(fake_engine, evaluation):
    batches: list = []
    evaluate(fake_engine, plan_evaluation(evaluation), collect(batches))
    # (4 + 5) queries x 2 models in batches of 4, then 10 scale queries for one model
    assert fake_engine.choice_calls == [4, 4, 4, 4, 2]
    assert fake_engine.sample_calls == [4, 4, 2]
    assert len(batches) == 8
    assert batches[0].keys() == {"base", "risk-seeking/s0"}  # query-major: both models advance together


def test_units_per_model_counts_the_complete_evaluation(evaluation):
    assert plan_evaluation(evaluation).units_per_model() == {"base": 9, "risk-seeking/s0": 39}


def test_missing_requests_plans_only_what_is_not_stored():
    queries = [ChoiceQuery("q0", (), "A"), ChoiceQuery("q0", (), "B", permutation=1),
               SampleQuery("s", (), n=2, temperature=1.0, max_tokens=4, seed=1)]
    assert query_units("i", queries[1]) == ["i/q0/p1/s0"]
    assert query_units("i", queries[2]) == ["i/s/p0/s0", "i/s/p0/s1"]
    everything = missing_requests("i", queries, ["m1", "m2"], {})
    assert everything == [Request("m1", 0), Request("m2", 0), Request("m1", 1), Request("m2", 1),
                          Request("m1", 2), Request("m2", 2)]
    done = {"m1": {"i/q0/p0/s0", "i/q0/p1/s0", "i/s/p0/s0"}, "m2": {"i/q0/p1/s0"}}
    # m1's sample query has one of its two samples: asked again (only the missing sample is kept)
    assert missing_requests("i", queries, ["m1", "m2"], done) == [Request("m2", 0), Request("m1", 2),
                                                                  Request("m2", 2)]
    complete = {"m1": {u for q in queries for u in query_units("i", q)}}
    assert missing_requests("i", queries, ["m1"], complete) == []


def test_a_resumed_evaluation_computes_only_the_missing_records(fake_engine, context_for, evaluation):
    whole: list = []
    evaluate(fake_engine, plan_evaluation(evaluation), collect(whole))
    expected = by_model(whole)

    class Killed(Exception):
        pass

    first: list = []

    def dies_after_three(batch):
        first.append({label: list(records) for label, records in batch.items()})
        if len(first) == 3:
            raise Killed

    with pytest.raises(Killed):
        evaluate(fake_engine, plan_evaluation(evaluation), dies_after_three)
    stored = by_model(first)
    done = {label: [r.unit for r in records] for label, records in stored.items()}
    second: list = []
    computed = evaluate(fake_engine, plan_evaluation(evaluation), collect(second), done)
    assert computed == {label: len(expected[label]) - len(stored.get(label, [])) for label in expected}
    resumed = by_model(first + second)
    assert resumed == expected

    again: list = []
    nothing = evaluate(fake_engine, plan_evaluation(evaluation), collect(again),
                       {label: [r.unit for r in rs] for label, rs in resumed.items()})
    assert nothing == {"base": 0, "risk-seeking/s0": 0} and again == []


def test_cancel_is_checked_before_each_engine_call(fake_engine, evaluation):
    with pytest.raises(Cancelled):
        evaluate(fake_engine, plan_evaluation(evaluation), lambda batch: None, should_stop=lambda: True)
    assert fake_engine.choice_calls == []


def test_duplicate_units_are_a_data_error(context_for):
    context = context_for("heldout")
    probe = context.probes["risk-seeking"]
    probe.items.append(probe.items[0])
    duplicated = SuiteContext("heldout", context.params, {"risk-seeking": probe})
    with pytest.raises(DataError, match="same unit twice"):
        plan_evaluation(Evaluation("e", "fake", MODELS, (InstancePlan("heldout", duplicated, ("base",)),)))


def test_an_evaluation_checks_its_models():
    with pytest.raises(ValueError, match="unknown models"):
        Evaluation("e", "fake", MODELS, (InstancePlan("heldout", SuiteContext("h", {}), ("nobody",)),))
    with pytest.raises(ValueError, match="distinct"):
        Evaluation("e", "fake", MODELS + MODELS[:1], ())


def record(instance: str, item: str, score: float | None, permutation: int = 0, sample: int = 0) -> rec.EvalRecord:
    r = rec.EvalRecord(suite_instance=instance, item=item, permutation=permutation, sample=sample)
    if score is None:
        r.dropped_reason = "x"
    else:
        r.score = score
    return r


def test_summarize_averages_the_orders_of_a_unit_and_counts_dropped_records():
    records = [record("h", "q0", 1.0), record("h", "q0", 0.0, permutation=1), record("h", "q1", 1.0),
               record("h", "q1", None, permutation=1), record("s", "p", None)]
    held, scale = summarize(["h", "s", "absent"], records)
    assert (held.suite, held.mean, held.n, held.dropped) == ("h", 0.75, 3, 1)  # units: 0.5 and 1.0
    assert scale.suite == "s" and math.isnan(scale.mean) and (scale.n, scale.dropped) == (0, 1)


def test_a_summary_fed_batch_by_batch_scores_as_summarize_does_with_a_units_orders_in_different_batches():
    records = [record("h", "q0", 1.0), record("h", "q1", 1.0), record("s", "p", None),
               record("h", "q0", 0.0, permutation=1), record("h", "q1", None, permutation=1)]
    summary = Summary()
    for start in range(0, len(records), 2):  # q0's two orders arrive in different engine calls
        summary.add(records[start:start + 2])
    assert summary.scores(["h", "s"])[:1] == summarize(["h", "s"], records)[:1]
    assert (summary.scores(["h"])[0].mean, summary.scores(["h"])[0].n) == (0.75, 3)


def test_vllm_options_reject_ranks_vllm_refuses():
    with pytest.raises(ValueError, match="max_lora_rank"):
        VllmOptions(max_lora_rank=4)
