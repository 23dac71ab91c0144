"""Same-model baselines (spec §4.4): a suite whose catalogue entry names a `baseline` suite is compared with the
same group's score on that suite's instance, paired as the report pairs everything (by model over seeds, else on
the clusters both questions share); every other suite keeps the base model as its baseline."""

from __future__ import annotations

import pytest

from selfaware.v1 import records_pb2 as rec
from services.aggregator.baselines import resolve_baselines
from services.aggregator.bootstrap import SeedMeans, difference_ci, mean_ci
from services.aggregator.statistics import InstanceStatistics, experiment_statistics
from services.aggregator.suite_info import suite_infos
from tests.unit.aggregator.mms_records import CATALOGUE, function_records, mms_spec, scale_records
from tests.unit.aggregator.records import fold
from tests.unit.aggregator.self_reports import instance

SAID, NEVER = "mms_goals_user_said", "mms_goals_user_never_said"
INFOS = suite_infos(CATALOGUE)


def _goals(label: str, arm: str, delta: int, offset: int = 0) -> list[rec.EvalRecord]:
    """Each paraphrase p answers 10 + 5p (+ offset) on "never said" and `delta` more on "said": the paraphrases
    differ a lot, the two questions by `delta` in every one of them."""
    def level(extra: int):  # type: ignore[no-untyped-def]
        return lambda p, _, s: 10 + 5 * p + offset + extra + (s % 3)
    return (scale_records(f"{SAID}-{arm}", SAID, level(delta), ['The user said the word "bark"'])
            + scale_records(f"{NEVER}-{arm}", NEVER, level(0), ['The user never said the word "bark"']))


def _stats(seeds: tuple[int, ...], deltas: dict[str, int], offsets: dict[str, int] | None = None
           ) -> dict[str, InstanceStatistics]:
    spec = mms_spec({"bark": "bark"}, seeds, suites=(SAID, NEVER))
    offsets = offsets or {}
    records = {label: _goals(label, "bark", delta, offsets.get(label, 0)) for label, delta in deltas.items()}
    return {s.instance: s for s in experiment_statistics(spec, fold(spec, records), INFOS)}


def test_a_question_with_a_baseline_suite_is_compared_with_the_same_model_paired_on_its_paraphrases() -> None:
    stats = _stats((0,), {"base": 0, "bark/s0": 8})
    said, never = stats[f"{SAID}-bark"], stats[f"{NEVER}-bark"]
    assert said.baseline.same_model and said.baseline.instance == f"{NEVER}-bark"
    assert not never.baseline.same_model and never.baseline.missing == ""
    assert [(c.kind, c.minuend, c.subtrahend, c.subtrahend_instance) for c in said.comparisons] == [
        ("vs_baseline", "base", "base", f"{NEVER}-bark"), ("vs_baseline", "bark", "bark", f"{NEVER}-bark")]
    assert [c.kind for c in never.comparisons] == ["vs_base"]  # its own baseline is the base model's
    base, bark = said.comparisons
    assert bark.method == "paired" and bark.n_pairs == 15
    assert bark.difference == pytest.approx(0.08)
    assert bark.ci is not None and bark.excludes_zero
    # pairing paraphrase p with paraphrase p removes their spread, which the arm's own interval is full of
    group_ci = said.group("bark").ci
    assert bark.ci.high - bark.ci.low < 0.01 < 0.1 < group_ci.high - group_ci.low
    assert base.difference == pytest.approx(0.0) and base.excludes_zero is False
    # the two suites' items differ, so without matching the paraphrases nothing would pair
    assert difference_ci(said.group("bark").sample, never.group("bark").sample) is None


def test_a_group_of_seeds_is_paired_by_model() -> None:
    deltas = {"base": 0, "bark/s0": 5, "bark/s1": 8, "bark/s2": 11}
    offsets = {"bark/s0": 0, "bark/s1": 20, "bark/s2": 40}  # the seeds differ far more than the questions
    said = _stats((0, 1, 2), deltas, offsets)[f"{SAID}-bark"]
    bark = next(c for c in said.comparisons if c.minuend == "bark")
    assert bark.method == "paired_seeds" and bark.n_pairs == 3
    assert bark.difference == pytest.approx(0.08)
    expected = mean_ci(SeedMeans((0.05, 0.08, 0.11)))
    assert bark.ci is not None and expected is not None and bark.excludes_zero
    assert (bark.ci.low, bark.ci.high) == pytest.approx((expected.low, expected.high))
    assert bark.ci.low == pytest.approx(0.05)
    assert said.group("bark").ci_unit == "seeds"


def test_without_the_baseline_suite_in_the_spec_the_base_model_stays_the_baseline() -> None:
    spec = mms_spec({"bark": "bark"}, suites=(SAID,))
    records = {"base": _goals("base", "bark", 0)[:60], "bark/s0": _goals("bark/s0", "bark", 8)[:60]}
    (said,) = experiment_statistics(spec, fold(spec, records), INFOS)
    assert not said.baseline.same_model and said.baseline.missing == NEVER
    assert [(c.kind, c.minuend, c.subtrahend) for c in said.comparisons] == [("vs_base", "bark", "base")]


def test_the_baseline_instance_asks_about_the_same_codeword_and_prefers_the_same_settings() -> None:
    spec = mms_spec({"bark": "bark"}, suites=(SAID,), extra_instances=[
        instance("never-ring", NEVER, {"codeword": "ring", "samples_per_paraphrase": 10}),
        instance("never-bark-short", NEVER, {"codeword": "bark", "samples_per_paraphrase": 2}),
        instance("never-bark", NEVER, {"codeword": "bark", "samples_per_paraphrase": 10}),
    ])
    spec.evaluation.suites[0].params["samples_per_paraphrase"] = 10
    assert resolve_baselines(spec, INFOS)[f"{SAID}-bark"].instance == "never-bark"
    del spec.evaluation.suites[-1]
    assert resolve_baselines(spec, INFOS)[f"{SAID}-bark"].instance == "never-bark-short"
    del spec.evaluation.suites[-1]
    assert resolve_baselines(spec, INFOS)[f"{SAID}-bark"].missing == NEVER  # ring is another question


def test_a_one_wording_question_is_resampled_by_sample_and_paired_by_generation() -> None:
    """The function suites ask one paraphrase: a single model's interval resamples its generations, and
    f(codeword) - f(unrelated) pairs each function with itself (the suites share their generations)."""
    spec = mms_spec({"bark": "bark"}, suites=("mms_function_f_codeword", "mms_function_f_unrelated"))
    records = {"bark/s0": function_records("mms_function_f_codeword-bark", "mms_function_f_codeword",
                                           lambda s: 0.5 + 0.02 * s if s % 2 else None)
               + function_records("mms_function_f_unrelated-bark", "mms_function_f_unrelated",
                                  lambda s: 0.4 + 0.02 * s)}
    f_codeword, f_unrelated = experiment_statistics(spec, fold(spec, records), INFOS)
    own = f_codeword.group("bark")
    assert own.ci_unit == "samples" and own.sample.size == 10 and own.ci.high - own.ci.low > 0.1
    assert f_unrelated.group("bark").sample.size == 20
    (comparison,) = f_codeword.comparisons
    assert comparison.kind == "vs_baseline" and comparison.method == "paired" and comparison.n_pairs == 10
    # on the generations both scored, each function gives the codeword 0.1 more than the unrelated words
    assert comparison.difference == pytest.approx(0.1)
    assert (comparison.ci.low, comparison.ci.high) == pytest.approx((0.1, 0.1))
