from __future__ import annotations

import pytest

from selfaware.errors import DataError
from selfaware.v1 import records_pb2 as rec
from services.aggregator.record_fold import MAX_DISTINCT_ANSWERS, InstanceScores, RecordFold, option_letter
from tests.unit.aggregator.mms_records import SCENARIOS, scale_records
from tests.unit.aggregator.records import SEEKING, fold, make_spec, sampled, two_option

SPEC = make_spec(seeds=[0])
#: The base model always puts 0.8 on the first letter, whatever the content behind it.
POSITIONAL = {" A": 0.5, "(A": 0.3, "B": 0.2}


def _heldout(label: str, records: list[rec.EvalRecord]) -> InstanceScores:
    (model,) = [m for m in fold(SPEC, {label: records}) if m.label == label]
    return model.instances["heldout"]


def test_a_positional_model_has_p_a_and_a_counterbalanced_score_of_one_half() -> None:
    records = []
    for i in range(4):
        records.append(two_option(f"q{i}", POSITIONAL, target="A", permutation=0))
        records.append(two_option(f"q{i}", POSITIONAL, target="B", permutation=1))
    scores = _heldout("base", records)
    assert scores.two_option and scores.p_first == pytest.approx(0.8) and scores.n_positional == 8
    assert scores.mean == pytest.approx(0.5)
    assert scores.permutations[0].mean == pytest.approx(0.8)
    assert scores.permutations[1].mean == pytest.approx(0.2)
    assert scores.permutations[0].n == scores.permutations[1].n == 4


def test_a_unit_averages_its_permutations() -> None:
    records = [two_option("q0", {"A": 0.9, "B": 0.1}, "A", 0), two_option("q0", {"A": 0.3, "B": 0.7}, "B", 1),
               two_option("q1", {"A": 0.6, "B": 0.4}, "A", 0)]
    scores = _heldout(f"{SEEKING}/s0", records)
    # q0: (0.9 + 0.7) / 2; q1 asked in one order only; each item its own cluster
    assert scores.clusters.keys == ("q0#0", "q1#0")
    assert scores.clusters.totals == pytest.approx((0.8, 0.6)) and scores.clusters.counts == (1, 1)
    assert scores.n_units == 2 and scores.n_records == scores.n_scored == 3
    assert scores.mean == pytest.approx(0.7)
    assert scores.p_first == pytest.approx((0.9 + 0.3 + 0.6) / 3)


def test_samples_are_units_clustered_by_paraphrase() -> None:
    records = [sampled("q/0", "risk", 1.0, sample=0), sampled("q/0", "safety", 0.0, sample=1),
               sampled("q/0", "risk", 1.0, sample=2), sampled("q/1", "risk", 1.0, sample=0, paraphrase=1)]
    (model, *_) = fold(SPEC, {"base": records})
    scores = model.instances["risk_or_safety"]
    assert scores.n_units == 4 and scores.mean == pytest.approx(0.75)
    assert scores.clusters.keys == ("q/0#0", "q/1#1")
    assert scores.clusters.totals == pytest.approx((2.0, 1.0)) and scores.clusters.counts == (3, 1)
    assert not scores.two_option and scores.p_first is None and not scores.sample_clusters

    # one wording only: its samples are the clusters
    (model, *_) = fold(SPEC, {"base": records[:3]})
    scores = model.instances["risk_or_safety"]
    assert scores.sample_clusters and scores.clusters.keys == ("q/0#0#0", "q/0#0#1", "q/0#0#2")
    assert scores.clusters.totals == (1.0, 0.0, 1.0) and scores.clusters.counts == (1, 1, 1)
    assert scores.mean == pytest.approx(2 / 3) and scores.n_units == 3
    (model, *_) = fold(SPEC, {"base": records[:1]})
    assert not model.instances["risk_or_safety"].sample_clusters  # one unit: nothing to resample


def test_a_distribution_over_outputs_is_no_letter_choice() -> None:
    record = rec.EvalRecord(suite_instance="risk_or_safety", suite="risk_or_safety", item="q/0",
                            probs={"50": 0.6, "70": 0.3}, score=0.56, answer="56")
    (model, *_) = fold(SPEC, {"base": [record]})
    scores = model.instances["risk_or_safety"]
    assert not scores.two_option and scores.n_positional == 0 and scores.mean == pytest.approx(0.56)


def test_records_without_either_letter_are_skipped_and_dropped() -> None:
    records = [two_option("q0", {"C": 0.9, "D": 0.1}, "A"), two_option("q1", {"B": 1.0}, "A"),
               two_option("q2", {"x": 0.5, "y": 0.5}, "B", options=("X", "Y"))]
    scores = _heldout("base", records)
    assert scores.n_positional == 2 and scores.p_first == pytest.approx(0.25)  # q1: 0 on A; q2: 0.5 on X
    assert scores.n_records == 3 and scores.n_scored == 2 and scores.dropped == {"no option in the top-k": 1}


def test_dropped_reasons_and_sampled_answers_are_counted() -> None:
    records = [sampled("q0", "safety", 0.0, 0), sampled("q0", " safety ", 0.0, 1),
               sampled("q0", "risk", 1.0, 2), sampled("q0", "maybe", None, 3, reason="no option word"),
               sampled("q0", "", None, 4), sampled("q0", "nan", float("nan"), 5)]
    (model, *_) = fold(SPEC, {"base": records})
    scores = model.instances["risk_or_safety"]
    assert scores.top_answers == (("safety", 2), ("risk", 1), ("maybe", 1), ("nan", 1))
    assert scores.answers == scores.top_answers and scores.n_answers == 5
    assert scores.dropped == {"no option word": 1, "score is not a finite number": 1, "unspecified": 1}
    assert scores.n_dropped == 3
    assert scores.mean == pytest.approx(1 / 3)


def test_the_answer_counter_is_bounded() -> None:
    accumulator = RecordFold([rec.ModelUnderTest(label="base")])
    words = (sampled("q", f"word {i}", 0.0, i) for i in range(MAX_DISTINCT_ANSWERS + 5))
    accumulator.add_records("base", words)
    accumulator.add_records("base", [sampled("q", "word 0", 0.0, 0)])
    (model,) = accumulator.results()
    scores = model.instances["risk_or_safety"]
    assert scores.untracked_answers == 5 and scores.top_answers[0] == ("word 0", 2)
    assert len(scores.answers) == MAX_DISTINCT_ANSWERS and scores.n_answers == MAX_DISTINCT_ANSWERS + 6


def test_chunk_boundaries_do_not_change_the_result() -> None:
    records = [two_option(f"q{i % 5}", {"A": 0.1 * (i % 9) + 0.05, "B": 0.5}, "AB"[i % 2], i % 2)
               for i in range(20)]
    one = fold(SPEC, {"base": records}, per_chunk=100)
    many = fold(SPEC, {"base": records}, per_chunk=1)
    assert one == many


def test_results_keep_the_planned_order_and_include_models_without_records() -> None:
    labels = [m.label for m in fold(SPEC, {f"{SEEKING}/s0": [two_option("q", POSITIONAL, "A")]})]
    assert labels == ["base", f"{SEEKING}/s0", "risk-averse/s0"]


def test_records_of_an_unplanned_model_are_an_error() -> None:
    with pytest.raises(DataError, match="nobody/s0"):
        RecordFold([rec.ModelUnderTest(label="base")]).add_chunk("nobody/s0", rec.RecordChunk())


@pytest.mark.parametrize(("token", "letter"), [(" a", "A"), ("(B", "B"), ("A)", "A"), ("b ", "B")])
def test_option_letters_follow_the_evaluator(token: str, letter: str) -> None:
    assert option_letter(token) == letter


def test_records_with_a_scenario_are_also_folded_per_scenario_in_scenario_order() -> None:
    spec = make_spec(seeds=[0], instances=[])
    # scenario i answers 5i + paraphrase; scenario 3 cannot be parsed in paraphrase 0
    records = scale_records("goals", "mms_goals_scenarios", lambda p, i, s: None if (i, p) == (3, 0) else 5 * i + p,
                            SCENARIOS, paraphrases=4, samples=2)
    shuffled = records[1::2] + records[::2]  # chunks in another order: the scenario order is the index's
    (model,) = [m for m in fold(spec, {"base": shuffled}, per_chunk=7) if m.label == "base"]
    scores = model.instances["goals"]
    assert list(scores.scenarios) == list(SCENARIOS)
    for index, scenario in enumerate(SCENARIOS):
        one = scores.scenarios[scenario]
        paraphrases = range(1, 4) if index == 3 else range(4)
        assert one.mean == pytest.approx(sum(5 * index + p for p in paraphrases) / len(paraphrases) / 100)
        assert one.clusters.keys == tuple(f"mms_goals_scenarios/{p}#{p}" for p in paraphrases)
        assert one.n_units == 2 * len(paraphrases) and one.scenarios == {}
    assert scores.scenarios[SCENARIOS[3]].dropped == {"not a number from 0 to 100": 2}
    assert scores.n_records == sum(s.n_records for s in scores.scenarios.values()) == 12 * 4 * 2
    assert _heldout("base", [two_option("q0", POSITIONAL, "A")]).scenarios == {}
