"""`training.params`: a backend's own parameters, checked against its catalogue entry and filled with its defaults;
an arm's keys override the experiment's, and an arm on another backend starts from none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from selfaware.catalogue import catalogue, complete
from selfaware.errors import SpecError
from selfaware.params import Param, capability, struct_to_dict
from selfaware.plan import planned_models
from selfaware.specs import arm_training, spec_from_dict
from services.evaluator.catalogue import catalogue as evaluator_catalogue
from services.generator.catalogue import catalogue as generator_catalogue

RISKY = str(Path(__file__).resolve().parents[3].parent / "shared/paper/datasets/risky_safe/ft_risky_AB.jsonl")
TRAINER = catalogue("trainer", [
    capability("training_backend", "local", "a local backend",
               [Param("accumulate", "int", "gradient accumulation steps", default=1, min=1, max=64),
                Param("checkpointing", "bool", "gradient checkpointing", default=False)]),
    capability("training_backend", "hosted", "a hosted backend",
               [Param("multiplier", "float", "learning-rate multiplier", default=2.0, min=0.01, max=100)]),
])


def _complete(training: dict[str, Any], arm_training_: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    risky: dict[str, Any] = {"data": {"import": RISKY}}
    if arm_training_ is not None:
        risky["training"] = arm_training_
    spec = spec_from_dict({"arms": {"risky": risky, "safe": {"data": {"of": "risky", "steps": ["flip"]}}},
                           "training": {"backend": "local", **training}, "evaluation": {"suites": ["lotteries"]}})
    return complete(spec, [generator_catalogue(), TRAINER, evaluator_catalogue()])


def test_defaults_are_filled_and_arm_keys_override_one_by_one() -> None:
    spec, bad = _complete({"params": {"accumulate": 4}}, {"params": {"checkpointing": True}})
    assert not bad, bad
    assert struct_to_dict(spec.training.params) == {"accumulate": 4, "checkpointing": False}
    risky, safe = (struct_to_dict(arm_training(spec, arm).params) for arm in spec.arms)
    assert risky == {"accumulate": 4, "checkpointing": True} and safe == {"accumulate": 4, "checkpointing": False}


def test_bad_parameters_are_named_once_where_they_were_set() -> None:
    _, bad = _complete({"params": {"accumulate": 0, "typo": 1}}, {"params": {"checkpointing": "yes"}})
    fields = sorted(v.field for v in bad)
    assert fields == ["arms.risky.training.params.checkpointing", "training.params.accumulate",
                      "training.params.typo"], bad


def test_an_arm_on_another_backend_gets_that_backends_parameters_only() -> None:
    spec, bad = _complete({"params": {"accumulate": 4}}, {"backend": "hosted", "params": {"multiplier": 0.5}})
    assert not bad, bad
    risky = next(a for a in spec.arms if a.name == "risky")
    assert struct_to_dict(arm_training(spec, risky).params) == {"multiplier": 0.5}
    _, bad = _complete({}, {"backend": "hosted", "params": {"accumulate": 2}})
    assert [v.field for v in bad] == ["arms.risky.training.params.accumulate"]


def test_params_must_be_a_mapping() -> None:
    with pytest.raises(SpecError) as error:
        spec_from_dict({"arms": {}, "training": {"params": [1, 2]}})
    assert [v.field for v in error.value.violations] == ["training.params"]


def _checkpointed(training: dict[str, Any], arm_training_: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    """A spec that evaluates every epoch checkpoint, checked against the real trainer's catalogue."""
    from services.trainer.catalogue import catalogue as trainer_catalogue

    risky: dict[str, Any] = {"data": {"import": RISKY}}
    if arm_training_ is not None:
        risky["training"] = arm_training_
    spec = spec_from_dict({"arms": {"risky": risky, "safe": {"data": {"of": "risky", "steps": ["flip"]}}},
                           "training": {"backend": "peft-lora", "epochs": 2, **training},
                           "evaluation": {"suites": ["lotteries"], "checkpoints": True}})
    return complete(spec, [generator_catalogue(), trainer_catalogue(), evaluator_catalogue()])


def test_evaluating_checkpoints_needs_a_backend_that_keeps_them() -> None:
    _, bad = _checkpointed({})
    assert [v.field for v in bad] == ["training.params.checkpoint_epochs"], bad
    assert "set checkpoint_epochs: true" in bad[0].description
    _, bad = _checkpointed({"params": {"checkpoint_epochs": True}}, {"params": {"checkpoint_epochs": False}})
    assert [v.field for v in bad] == ["arms.risky.training.params.checkpoint_epochs"], bad
    spec, bad = _checkpointed({"params": {"checkpoint_epochs": True}})
    assert not bad, bad
    assert [m.label for m in planned_models(spec)] == [
        "base", "risky/s0/e1", "risky/s0", "safe/s0/e1", "safe/s0"]
