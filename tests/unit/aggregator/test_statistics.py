from __future__ import annotations

import math

import pytest

from services.aggregator.statistics import ModelScores, suite_statistics

SEEKING, AVERSE = "risk-seeking", "risk-averse"


def _model(policy: str, seed: int, items: list[float], suite: str = "heldout") -> ModelScores:
    label = "base" if not policy else f"{policy}/s{seed}"
    return ModelScores(label, policy, seed, not policy, {suite: sum(items) / len(items)}, {suite: items})


SEEKING_MODELS = [_model(SEEKING, s, [0.7 + 0.05 * s, 0.9, 0.8]) for s in range(4)]
AVERSE_MODELS = [_model(AVERSE, s, [0.1 + 0.03 * s, 0.2, 0.15]) for s in range(4)]
BASE = _model("", 0, [0.4, 0.6, 0.5, 0.45, 0.55, 0.5])
ALL = [*SEEKING_MODELS, *AVERSE_MODELS, BASE]


def test_groups_average_seed_means_and_bootstrap_over_seeds() -> None:
    stats = suite_statistics("heldout", ALL, SEEKING, AVERSE)
    policy = stats.groups["policy"]
    assert policy.ci_unit == "seeds" and policy.n_models == 4 and policy.n_items == 12
    assert policy.mean == pytest.approx(sum(m.suite_means["heldout"] for m in SEEKING_MODELS) / 4)
    assert policy.ci is not None and policy.ci.low <= policy.mean <= policy.ci.high
    base = stats.groups["base"]
    assert base.ci_unit == "items" and base.n_models == 1 and base.n_items == 6
    assert base.ci is not None and base.ci.low <= base.mean <= base.ci.high


def test_a_single_seed_falls_back_to_an_item_ci() -> None:
    stats = suite_statistics("heldout", [SEEKING_MODELS[0], *AVERSE_MODELS], SEEKING, AVERSE)
    policy = stats.groups["policy"]
    assert policy.ci_unit == "items" and policy.n_models == 1
    assert policy.mean == SEEKING_MODELS[0].suite_means["heldout"]
    assert policy.units == tuple(SEEKING_MODELS[0].item_scores["heldout"])


def test_comparisons_sign_and_separation() -> None:
    stats = suite_statistics("heldout", ALL, SEEKING, AVERSE)
    comparisons = {c.name: c for c in stats.comparisons}
    assert set(comparisons) == {"policy_minus_opposite", "policy_minus_base", "opposite_minus_base"}
    main = comparisons["policy_minus_opposite"]
    assert (main.minuend, main.subtrahend) == (SEEKING, AVERSE)
    assert main.difference > 0 and main.ci is not None and main.ci.low > 0
    assert main.cis_separated is True and main.excludes_zero is True
    assert comparisons["opposite_minus_base"].difference < 0


def test_overlapping_groups_are_not_separated() -> None:
    close = [_model(AVERSE, s, [0.7 + 0.05 * s, 0.88, 0.8]) for s in range(4)]
    main = suite_statistics("heldout", [*SEEKING_MODELS, *close], SEEKING, AVERSE).comparisons[0]
    assert main.name == "policy_minus_opposite" and main.cis_separated is False


def test_missing_and_unscorable_models_are_left_out() -> None:
    nan = ModelScores(f"{SEEKING}/s9", SEEKING, 9, False, {"heldout": math.nan}, {"heldout": []})
    other_suite = _model(AVERSE, 5, [0.5, 0.5], suite="lotteries")
    stats = suite_statistics("heldout", [*SEEKING_MODELS, nan, other_suite], SEEKING, AVERSE)
    assert stats.groups["policy"].n_models == 4
    assert set(stats.groups) == {"policy"} and stats.comparisons == []


def test_a_model_with_one_item_has_no_ci() -> None:
    stats = suite_statistics("heldout", [_model("", 0, [0.3])], SEEKING, AVERSE)
    assert stats.groups["base"].ci is None and stats.groups["base"].ci_unit == "none"
