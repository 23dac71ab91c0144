"""The quota estimate of a spec and the quota checks (services/aggregator/quotas.py), on completed specs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from selfaware.auth import ADMIN, LOCAL, Principal
from selfaware.catalogue import complete
from selfaware.errors import PermissionDenied, QuotaExceeded
from selfaware.specs import spec_from_dict
from services.aggregator import ownership, quotas
from services.aggregator.experiments import _count_rows
from services.aggregator.quotas import Cost, QuotaLimits, Usage
from services.evaluator.catalogue import catalogue as evaluator_catalogue
from services.generator.catalogue import catalogue as generator_catalogue
from services.trainer.catalogue import catalogue as trainer_catalogue

CATALOGUES = [generator_catalogue(), trainer_catalogue(), evaluator_catalogue()]


def completed(data: dict[str, Any]) -> Any:
    spec, violations = complete(spec_from_dict(data), CATALOGUES)
    assert not violations, violations
    return spec


def spec(arms: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"name": "q", "arms": arms, "holdout": {"rows": 10, "seed": 0},
            "training": {"epochs": 2, "seeds": [0, 1]}, "evaluation": {"engine": "hf", "suites": ["heldout"]},
            **more}


def no_files(uri: str) -> int | None:
    raise AssertionError(f"read {uri}")


def test_generator_rows_sample_steps_and_of_arms() -> None:
    arms = {"a": {"data": {"generate": "procedural-gambles", "params": {"rows": 100}},
                  "family": "risk", "policy": "risk-seeking"},
            "b": {"data": {"of": "a", "steps": [{"sample": 40}]}, "family": "risk", "policy": "risk-averse"},
            "c": {"data": {"of": "a", "steps": ["flip"]}, "family": "risk", "policy": "risk-averse",
                  "train": False}}
    cost = quotas.estimate(completed(spec(arms)), QuotaLimits(train_samples_per_gpu_hour=1000), no_files)
    # rows: a 100, b 40, c 100 (built, not trained); models: 1 base + (a, b) x 2 seeds; holdout 10 per model
    assert cost.samples == 240 + 10 * 5
    # (100 + 40) rows x 2 epochs x 2 seeds / 1000 per hour
    assert cost.gpu_hours == pytest.approx(0.56)


def test_a_generators_default_rows_count_and_an_import_is_counted_by_its_lines(tmp_path: Path) -> None:
    data = tmp_path / "rows.jsonl"
    data.write_text('{"messages": []}\n' * 7 + "\n")
    arms = {"a": {"data": {"generate": "procedural-gambles"}, "family": "risk",
                  "policy": "risk-seeking"},
            "b": {"data": {"import": str(data)}, "family": "risk", "policy": "risk-averse"}}
    counted: list[str] = []

    def lines(uri: str) -> int | None:
        counted.append(uri)
        return 7

    cost = quotas.estimate(completed(spec(arms)), QuotaLimits(), lines)
    assert counted == [str(data)]
    assert cost.samples == 288 + 7 + 10 * 5  # procedural-gambles writes 288 rows by default


def test_each_quota_names_itself_the_usage_and_the_limit() -> None:
    limits = QuotaLimits(experiments_in_flight=2, gpu_hours_in_flight=3.0, samples_per_experiment=500)
    small = Cost(samples=100, gpu_hours=1.0)
    assert quotas.problem("ann", Usage(1, 1.0), small, limits) is None
    assert quotas.problem("ann", Usage(2, 1.0), small, limits) == (
        "quota experiments_in_flight: ann has 2 experiments in flight; the limit is 2")
    assert quotas.problem("ann", Usage(1, 2.5), small, limits) == (
        "quota gpu_hours_in_flight: ann has an estimated 2.50 GPU hours in flight and this experiment adds "
        "1.00; the limit is 3")
    assert quotas.problem("ann", Usage(), Cost(501, 0.0), limits) == (
        "quota samples_per_experiment: the experiment has an estimated 501 samples (training rows + probe "
        "samples); the limit for ann is 500")
    with pytest.raises(QuotaExceeded):
        quotas.check("ann", Usage(2, 0.0), small, limits)
    assert quotas.problem("ann", Usage(1000, 1e6), Cost(10**9, 1e6), QuotaLimits()) is None  # 0: no limit


def test_owners_and_admins() -> None:
    ann, ben, root = Principal("ann"), Principal("ben"), Principal("root", frozenset({ADMIN}))
    ownership.check(ann, "ann", "experiment x")
    ownership.check(root, "ann", "experiment x")
    ownership.check(LOCAL, "", "experiment x")  # auth off: the local user is an admin
    with pytest.raises(PermissionDenied, match="^experiment x is not yours"):
        ownership.check(ben, "ann", "experiment x")
    with pytest.raises(PermissionDenied):
        ownership.check(ann, "", "experiment x")  # stored before owners existed: an admin's only
    assert ownership.visible(ben, ["ann", "ben", ""], lambda owner: owner) == ["ben"]
    assert ownership.visible(root, ["ann", "ben", ""], lambda owner: owner) == ["ann", "ben", ""]


def test_the_row_count_never_reads_a_secret_reference(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the fetching service reads a secret: the aggregator's estimate counts a local file, not a reference
    to one (even with the secret in its own environment)."""
    data = tmp_path / "rows.jsonl"
    data.write_text("{}\n{}\n\n{}\n")
    monkeypatch.setenv("SELFAWARE_SECRET_ROWS", str(data))
    assert _count_rows(str(data)) == 3
    assert _count_rows("secret:rows") is None and _count_rows(f"{tmp_path}/${{secret:rows}}") is None
