from __future__ import annotations

import pytest

from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import spec_pb2
from services.aggregator.bootstrap import Clusters, mean_ci
from services.aggregator.statistics import InstanceStatistics, experiment_statistics
from tests.unit.aggregator.records import AVERSE, SEEKING, fold, make_spec, scored, two_option

SEEKING_ITEMS = {s: [0.7 + 0.05 * s, 0.9, 0.8] for s in range(4)}
AVERSE_ITEMS = {s: [0.1 + 0.03 * s, 0.2, 0.15] for s in range(4)}
BASE_ITEMS = [0.4, 0.6, 0.5, 0.45, 0.55, 0.5]
HELDOUT = [spec_pb2.SuiteInstance(id="heldout", suite="heldout", base=True)]


def _records(seeds: range = range(4)) -> dict[str, list[rec.EvalRecord]]:
    records = {"base": scored("heldout", BASE_ITEMS)}
    for seed in seeds:
        records[f"{SEEKING}/s{seed}"] = scored("heldout", SEEKING_ITEMS[seed])
        records[f"{AVERSE}/s{seed}"] = scored("heldout", AVERSE_ITEMS[seed])
    return records


def _stats(spec: spec_pb2.ExperimentSpec, records: dict[str, list[rec.EvalRecord]]
           ) -> list[InstanceStatistics]:
    return experiment_statistics(spec, fold(spec, records))


def test_groups_average_seed_means_and_bootstrap_over_seeds() -> None:
    (stats,) = _stats(make_spec(range(4), HELDOUT), _records())
    assert [g.label for g in stats.groups] == ["base", SEEKING, AVERSE]
    base, seeking, _ = stats.groups
    assert seeking.ci_unit == "seeds" and seeking.n_models == 4 and seeking.n_units == 12
    assert seeking.mean == pytest.approx(sum(sum(v) / 3 for v in SEEKING_ITEMS.values()) / 4)
    assert seeking.ci is not None and seeking.ci.low <= seeking.mean <= seeking.ci.high
    assert seeking.models == tuple(f"{SEEKING}/s{s}" for s in range(4))
    assert base.is_base and base.ci_unit == "items" and base.n_models == 1 and base.n_units == 6
    assert base.ci is not None and base.ci.low <= base.mean <= base.ci.high


def test_a_single_seed_falls_back_to_a_cluster_bootstrap_by_item() -> None:
    (stats,) = _stats(make_spec([0], HELDOUT), _records(range(1)))
    seeking = stats.groups[1]
    assert seeking.ci_unit == "items" and seeking.n_models == 1
    assert seeking.mean == pytest.approx(sum(SEEKING_ITEMS[0]) / 3)
    assert isinstance(seeking.sample, Clusters) and seeking.sample.totals == pytest.approx(tuple(SEEKING_ITEMS[0]))
    assert seeking.ci == mean_ci(seeking.sample)


def test_comparisons_are_the_spec_pairs_then_each_arm_minus_base() -> None:
    (stats,) = _stats(make_spec(range(4), HELDOUT), _records())
    named = [(c.kind, c.minuend, c.subtrahend) for c in stats.comparisons]
    assert named == [("compare", SEEKING, AVERSE), ("vs_base", SEEKING, "base"), ("vs_base", AVERSE, "base")]
    main, seeking_vs_base, averse_vs_base = stats.comparisons
    assert main.difference == pytest.approx(stats.groups[1].mean - stats.groups[2].mean)
    assert main.ci is not None and main.ci.low > 0
    assert main.cis_separated is True and main.excludes_zero is True
    assert seeking_vs_base.difference > 0 > averse_vs_base.difference


def test_the_spec_pair_order_is_the_sign() -> None:
    spec = make_spec(range(4), HELDOUT, compare=[(AVERSE, SEEKING)])
    (stats,) = _stats(spec, _records())
    assert stats.comparisons[0].minuend == AVERSE and stats.comparisons[0].difference < 0


def test_overlapping_groups_are_not_separated() -> None:
    records = _records()
    for seed in range(4):
        records[f"{AVERSE}/s{seed}"] = scored("heldout", [0.7 + 0.05 * seed, 0.88, 0.8])
    (stats,) = _stats(make_spec(range(4), HELDOUT), records)
    assert stats.comparisons[0].kind == "compare" and stats.comparisons[0].cis_separated is False


def test_an_instance_limited_to_one_arm_has_no_group_for_the_others() -> None:
    only_seeking = spec_pb2.SuiteInstance(id="only-seeking", suite="lotteries", arms=[SEEKING], base=False)
    instances = [*HELDOUT, only_seeking]
    records = _records()
    for seed in range(4):
        records[f"{SEEKING}/s{seed}"] += scored("only-seeking", [0.6, 0.7], suite="lotteries")
    heldout, lotteries = _stats(make_spec(range(4), instances), records)
    assert len(heldout.groups) == 3
    assert [g.label for g in lotteries.groups] == [SEEKING] and lotteries.comparisons == []
    assert lotteries.title == "only-seeking" and lotteries.suite == "lotteries"


def test_fully_dropped_models_are_left_out_and_one_unit_has_no_interval() -> None:
    records = _records(range(2))
    records[f"{SEEKING}/s1"] = [rec.EvalRecord(suite_instance="heldout", suite="heldout", item="q",
                                               dropped_reason="empty")]
    records["base"] = scored("heldout", [0.3])
    (stats,) = _stats(make_spec(range(2), HELDOUT), records)
    base, seeking, averse = stats.groups
    assert seeking.n_models == 1 and seeking.ci_unit == "items"
    assert base.ci is None and base.ci_unit == "none" and averse.ci_unit == "seeds"
    vs_base = [c for c in stats.comparisons if c.kind == "vs_base"]
    assert all(c.ci is None and c.cis_separated is None and c.excludes_zero is None for c in vs_base)


def test_every_group_of_a_two_option_instance_carries_its_base_models_p_a() -> None:
    records: dict[str, list[rec.EvalRecord]] = {"base": [], f"{SEEKING}/s0": []}
    for i in range(5):
        records["base"] += [two_option(f"q{i}", {"A": 0.8, "B": 0.2}, "A", 0),
                            two_option(f"q{i}", {"A": 0.8, "B": 0.2}, "B", 1)]
        records[f"{SEEKING}/s0"] += [two_option(f"q{i}", {"A": 0.9, "B": 0.1}, "A", 0),
                                     two_option(f"q{i}", {"A": 0.4, "B": 0.6}, "B", 1)]
    (stats,) = _stats(make_spec([0], HELDOUT), records)
    assert stats.two_option and stats.base_p_first == {"base": pytest.approx(0.8)}
    base, seeking = stats.groups
    assert base.mean == pytest.approx(0.5) and seeking.mean == pytest.approx(0.75)
    assert base.base_p_first == seeking.base_p_first == pytest.approx(0.8)


def test_without_the_base_model_there_is_no_base_group_or_p_a() -> None:
    spec = make_spec([0], HELDOUT, include_base=False)
    records = {f"{SEEKING}/s0": [two_option("q", {"A": 0.8, "B": 0.2}, "A")],
               f"{AVERSE}/s0": [two_option("q", {"A": 0.8, "B": 0.2}, "B")]}
    (stats,) = _stats(spec, records)
    assert [g.label for g in stats.groups] == [SEEKING, AVERSE]
    assert stats.base_p_first == {} and stats.groups[0].base_p_first is None
    assert [c.kind for c in stats.comparisons] == ["compare"]


def test_several_base_models_get_their_own_groups_and_comparisons() -> None:
    spec = make_spec([0], HELDOUT, base_models=("small", "large"))
    records = {}
    for key, level in (("b0", 0.6), ("b1", 0.9)):
        records[f"{key}/base"] = scored("heldout", [0.5, 0.5])
        records[f"{key}/{SEEKING}/s0"] = scored("heldout", [level, level])
        records[f"{key}/{AVERSE}/s0"] = scored("heldout", [0.1, 0.2])
    (stats,) = _stats(spec, records)
    assert [g.label for g in stats.groups] == ["b0/base", f"b0/{SEEKING}", f"b0/{AVERSE}",
                                               "b1/base", f"b1/{SEEKING}", f"b1/{AVERSE}"]
    assert [g.base_index for g in stats.groups] == [0, 0, 0, 1, 1, 1]
    compares = [c for c in stats.comparisons if c.kind == "compare"]
    assert [(c.minuend, c.subtrahend) for c in compares] == [(f"b0/{SEEKING}", f"b0/{AVERSE}"),
                                                            (f"b1/{SEEKING}", f"b1/{AVERSE}")]
    assert compares[1].difference == pytest.approx(0.9 - 0.15)
