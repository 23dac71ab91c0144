"""examples/myopia.yaml and examples/apples.yaml validate against every service's catalogue, plan the paper's
runs, and build arms whose flipped rows are the authors' opposite files."""

from __future__ import annotations

import pytest

from selfaware.catalogue import complete
from selfaware.plan import plan_jobs
from selfaware.specs import load_spec_file
from services.evaluator.catalogue import catalogue as evaluator_catalogue
from services.generator.catalogue import catalogue as generator_catalogue
from services.generator.recipes import build_arms
from services.trainer.catalogue import catalogue as trainer_catalogue

from .conftest import DATASETS, REPO

EXAMPLES = REPO / "examples"


@pytest.mark.parametrize(("name", "first", "second", "flipped_file", "epochs"), [
    ("myopia.yaml", "myopic", "non-myopic", "myopic_nonmyopic/ft_nonmyopic_AB.jsonl", 3),
    ("apples.yaml", "max-apples", "min-apples", "maxapples_minapples/ft_minapples_AB.jsonl", 10),
])
def test_the_example_validates_plans_and_builds(name: str, first: str, second: str, flipped_file: str,
                                                epochs: int) -> None:
    spec, violations = complete(load_spec_file(EXAMPLES / name),
                                [generator_catalogue(), trainer_catalogue(), evaluator_catalogue()])
    assert not violations, violations
    assert [arm.name for arm in spec.arms] == [first, second]
    assert (spec.training.epochs, list(spec.training.seeds)) == (epochs, [0, 1, 2])
    jobs = [job.key for job in plan_jobs("x", spec)]
    assert sorted(k for k in jobs if k.startswith("train.")) == sorted(
        f"train.{arm}.s{seed}" for arm in (first, second) for seed in range(3))
    assert "eval.base" in jobs and "report" in jobs
    a, b = build_arms(spec)
    assert len(a.heldout) == len(b.heldout) == 50 and len(a.probe.items) == 50
    opposite = (DATASETS / flipped_file).read_bytes().splitlines(keepends=True)
    held = {row.source_index for row in b.heldout}
    assert b.train_jsonl() == b"".join(line for i, line in enumerate(opposite) if i not in held)
