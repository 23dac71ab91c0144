"""Statistics of self-report instances: cluster bootstraps by paraphrase, paired differences, answer
distributions, parse rates and the settings against the paper's, on records in the evaluator's contract."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as scipy_stats

from selfaware.v1 import catalogue_pb2 as cat
from selfaware.v1 import records_pb2 as rec
from services.aggregator.bootstrap import Clusters, SeedMeans
from services.aggregator.statistics import InstanceStatistics, experiment_statistics
from services.aggregator.suite_info import suite_infos
from tests.unit.aggregator.records import AVERSE, SEEKING, fold, make_spec
from tests.unit.aggregator.self_reports import (
    describe_records,
    instance,
    number_records,
    suite_entry,
    word_records,
)

ATTITUDE = instance("attitude", "finetuned_attitude", {"unknown_words": "drop", "samples_per_paraphrase": 6})
DESCRIBE = instance("describe", "describe_risk_behaviour")
SCALE = instance("scale", "risk_predisposition_scale", {"samples_per_paraphrase": 4, "temperature": 1.0})
CATALOGUE = [cat.Catalogue(service="evaluator", capabilities=[
    suite_entry("finetuned_attitude", "self-report", "free_word",
                {"samples_per_paraphrase": 100, "unknown_words": "half", "questions": "paper/questions"},
                {"unknown_words": "string", "questions": "uri"}),
    suite_entry("describe_risk_behaviour", "self-report", "describe_word", {"samples_per_paraphrase": 100}),
    suite_entry("risk_predisposition_scale", "self-report", "scale",
                {"samples_per_paraphrase": 100, "temperature": 1.0}, {"temperature": "float"}),
])]


def seeking_word(p: int, s: int) -> str:
    """Paraphrases 0-4 always "bold"; 5-9 mostly "decisive" (not in the list), sometimes "reckless"."""
    return "bold" if p < 5 else ("reckless" if s == 0 else "decisive")


def base_word(p: int, s: int) -> str:
    """Paraphrase-dependent, as a base model's answers are: even ones "balanced", odd ones "cautious"."""
    return "decisive" if s == 5 else ("balanced" if p % 2 else "cautious")


def _stats(seeds: list[int], records: dict[str, list[rec.EvalRecord]],
           instances: list = [ATTITUDE]) -> list[InstanceStatistics]:  # noqa: B006 (read only)
    spec = make_spec(seeds, instances)
    return experiment_statistics(spec, fold(spec, records, per_chunk=7), suite_infos(CATALOGUE))


def _one_seed() -> dict[str, list[rec.EvalRecord]]:
    return {"base": word_records("attitude", "finetuned_attitude", base_word),
            f"{SEEKING}/s0": word_records("attitude", "finetuned_attitude", seeking_word),
            f"{AVERSE}/s0": word_records("attitude", "finetuned_attitude", lambda p, s: "cautious")}


def test_one_seed_is_a_cluster_bootstrap_by_paraphrase() -> None:
    (stats,) = _stats([0], _one_seed())
    seeking = stats.groups[1]
    assert seeking.ci_unit == "paraphrases" and isinstance(seeking.sample, Clusters)
    assert seeking.sample.size == 10 and seeking.n_units == 30 + 5  # unknown words dropped
    assert seeking.mean == pytest.approx(1.0)  # bold and reckless both score 1
    base = stats.groups[0]
    assert base.ci_unit == "paraphrases" and base.ci is not None
    # Treating base's 50 scored samples as independent would give a narrower interval than resampling its ten
    # paraphrases, whose answers depend on the paraphrase.
    units = [r.score for r in _one_seed()["base"] if r.HasField("score")]
    iid = scipy_stats.bootstrap((np.array(units),), np.mean, method="percentile", n_resamples=10_000,
                                random_state=0).confidence_interval
    assert base.ci.low <= base.mean <= base.ci.high
    assert base.ci.high - base.ci.low > 1.5 * (iid.high - iid.low)


def test_differences_of_single_models_are_paired_on_shared_paraphrases() -> None:
    (stats,) = _stats([0], _one_seed())
    main = next(c for c in stats.comparisons if c.kind == "compare")
    assert (main.minuend, main.subtrahend) == (SEEKING, AVERSE)
    assert main.method == "paired" and main.n_pairs == 10 and main.difference == pytest.approx(1.0)
    assert main.ci is not None and main.ci.low == pytest.approx(1.0) and main.excludes_zero


def test_seeds_give_the_papers_interval_and_independent_differences() -> None:
    records = {"base": word_records("attitude", "finetuned_attitude", base_word)}
    for seed in range(3):
        records[f"{SEEKING}/s{seed}"] = word_records("attitude", "finetuned_attitude",
                                                     lambda p, s, k=seed: "bold" if p > k else "cautious")
        records[f"{AVERSE}/s{seed}"] = word_records("attitude", "finetuned_attitude", lambda p, s: "safe")
    (stats,) = _stats([0, 1, 2], records)
    seeking = stats.groups[1]
    assert seeking.ci_unit == "seeds" and seeking.sample == SeedMeans((0.9, 0.8, 0.7))
    assert {c.method for c in stats.comparisons} == {"independent"}


def test_word_distributions_are_pooled_per_group_with_shares() -> None:
    records = _one_seed()
    records[f"{SEEKING}/s1"] = word_records("attitude", "finetuned_attitude", lambda p, s: "reckless")
    (stats,) = _stats([0, 1], records)
    seeking = next(d for d in stats.distributions if d.arm == SEEKING)
    assert seeking.models == (f"{SEEKING}/s0", f"{SEEKING}/s1") and seeking.n_answers == 120
    assert dict(seeking.answers) == {"reckless": 5 + 60, "bold": 30, "decisive": 25}
    assert seeking.shares(2) == [("reckless", pytest.approx(65 / 120)), ("bold", pytest.approx(30 / 120)),
                                 ("others", pytest.approx(25 / 120))]
    assert [d.label for d in stats.distributions] == ["base", SEEKING, AVERSE]
    assert stats.kind.presentation == "words" and stats.kind.unknown_words == "drop"


def test_a_distribution_only_instance_has_answers_and_no_score() -> None:
    records = {"base": describe_records("describe", "describe_risk_behaviour", lambda p, s: "balanced"),
               f"{SEEKING}/s0": describe_records("describe", "describe_risk_behaviour",
                                                 lambda p, s: "bold" if s % 4 else "aggressive")}
    (stats,) = _stats([0], records, [DESCRIBE])
    assert stats.kind.presentation == "distribution" and stats.groups == [] and stats.comparisons == []
    seeking = next(d for d in stats.distributions if d.arm == SEEKING)
    assert seeking.shares(5) == [("bold", 0.75), ("aggressive", 0.25)]


def test_numeric_groups_carry_their_parse_rate() -> None:
    records = {"base": number_records("scale", "risk_predisposition_scale", lambda p, s: "10"),
               f"{SEEKING}/s0": number_records("scale", "risk_predisposition_scale",
                                               lambda p, s: "70" if s < 3 else "seventy")}
    (stats,) = _stats([0], records, [SCALE])
    base, seeking = stats.groups
    assert stats.kind.presentation == "numeric"
    assert base.parse_rate == 1.0 and seeking.parse_rate == pytest.approx(0.75)
    assert (seeking.n_scored, seeking.n_records) == (30, 40) and seeking.mean == pytest.approx(0.7)


def test_numeric_instances_are_recognised_from_their_records_without_a_catalogue() -> None:
    spec = make_spec([0], [SCALE])
    records = {"base": number_records("scale", "risk_predisposition_scale", lambda p, s: "x" if s else "5")}
    (stats,) = experiment_statistics(spec, fold(spec, records))
    assert stats.kind.presentation == "numeric" and stats.kind.cluster_unit == "paraphrases"
    assert not stats.kind.catalogued and stats.settings == []


def test_settings_lowered_from_the_papers_are_listed() -> None:
    (attitude,) = _stats([0], _one_seed())
    assert [(c.name, c.value, c.default) for c in attitude.settings] == [
        ("samples_per_paraphrase", 6, 100), ("unknown_words", "drop", "half")]
    (scale,) = _stats([0], {"base": number_records("scale", "risk_predisposition_scale", lambda p, s: "1")},
                      [SCALE])
    assert [c.name for c in scale.settings] == ["samples_per_paraphrase"]  # T=1.0 is the paper's
