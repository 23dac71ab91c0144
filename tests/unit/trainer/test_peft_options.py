"""The peft-lora backend's `training.params`: published in the catalogue, checked at submit, and resolved on the
trainer's hardware with an error naming the field when an option needs CUDA this machine lacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfaware.catalogue import complete
from selfaware.errors import SpecError
from selfaware.params import struct_to_dict
from selfaware.specs import spec_from_dict
from services.evaluator.catalogue import catalogue as evaluator_catalogue
from services.generator.catalogue import catalogue as generator_catalogue
from services.trainer.backends.peft_options import PARAMS, PeftOptions, placement
from services.trainer.catalogue import catalogue as trainer_catalogue

RISKY = str(Path(__file__).resolve().parents[3].parent / "shared/paper/datasets/risky_safe/ft_risky_AB.jsonl")


def _complete(params: dict):  # type: ignore[no-untyped-def]
    spec = spec_from_dict({"arms": {"risky": {"data": {"import": RISKY}}}, "training": {"params": params},
                           "evaluation": {"suites": ["lotteries"]}})
    return complete(spec, [generator_catalogue(), trainer_catalogue(), evaluator_catalogue()])


def test_the_catalogue_publishes_every_option_and_submit_fills_the_defaults() -> None:
    entry = next(c for c in trainer_catalogue().capabilities if c.name == "peft-lora")
    assert [p.name for p in entry.params] == [p.name for p in PARAMS]
    spec, bad = _complete({"gradient_accumulation_steps": 2, "checkpoint_epochs": True})
    assert not bad, bad
    filled = struct_to_dict(spec.training.params)
    assert filled["gradient_accumulation_steps"] == 2 and filled["checkpoint_epochs"] is True
    assert filled["dtype"] == "auto" and filled["lr_scheduler"] == "constant" and filled["load_in_4bit"] is False
    assert PeftOptions.parse(filled) == PeftOptions.parse({"gradient_accumulation_steps": 2,
                                                           "checkpoint_epochs": True})


def test_bad_options_are_violations_with_their_field_path() -> None:
    _, bad = _complete({"gradient_accumulation_steps": 0, "lr_scheduler": "step", "dtype": "int8"})
    assert sorted(v.field for v in bad) == ["training.params.dtype", "training.params.gradient_accumulation_steps",
                                            "training.params.lr_scheduler"], bad


def test_auto_dtype_is_float32_on_cpu_and_bfloat16_on_cuda() -> None:
    options = PeftOptions.parse({})
    assert (placement(options, cuda=False).dtype, placement(options, cuda=False).device) == ("float32", "cpu")
    assert (placement(options, cuda=True).dtype, placement(options, cuda=True).device) == ("bfloat16", "cuda")
    assert placement(PeftOptions.parse({"dtype": "bfloat16"}), cuda=False).dtype == "bfloat16"


@pytest.mark.parametrize(("option", "value"), [("load_in_4bit", True), ("device_map", "auto")])
def test_cuda_only_options_fail_on_cpu_naming_the_field(option: str, value: object) -> None:
    with pytest.raises(SpecError) as raised:
        placement(PeftOptions.parse({option: value}), cuda=False)
    [violation] = raised.value.violations
    assert violation.field == f"training.params.{option}"
    assert "CUDA" in violation.description


def test_4bit_without_bitsandbytes_names_the_field_and_the_package() -> None:
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        with pytest.raises(SpecError, match="training.params.load_in_4bit: .*bitsandbytes"):
            placement(PeftOptions.parse({"load_in_4bit": True}), cuda=True)
    else:
        assert placement(PeftOptions.parse({"load_in_4bit": True}), cuda=True).load_in_4bit


def test_an_unknown_option_reaching_the_backend_is_named() -> None:
    with pytest.raises(SpecError, match="training.params.accumulate"):
        PeftOptions.parse({"accumulate": 2})
