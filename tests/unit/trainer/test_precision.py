"""`precision`: bf16 autocast decided at run time from the option and the hardware, never where it is emulated."""

from __future__ import annotations

import pytest

from services.trainer.backends import peft_options
from services.trainer.backends.peft_options import PeftOptions, autocast_bf16, native_bf16, placement


def decide(params: dict, cuda: bool = False) -> bool:
    options = PeftOptions.parse(params)
    return autocast_bf16(options, placement(options, cuda))


@pytest.mark.parametrize("native", [True, False])
def test_auto_autocasts_exactly_where_bf16_is_native(monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    monkeypatch.setattr(peft_options, "native_bf16", lambda cuda: native)
    assert decide({}) is native and decide({"precision": "auto"}) is native
    assert decide({"precision": "bfloat16"}) is True and decide({"precision": "float32"}) is False
    assert decide({"dtype": "bfloat16", "precision": "bfloat16"}) is False  # bf16 weights need no autocast
    assert decide({}, cuda=True) is False  # auto dtype on CUDA loads bf16 weights already


def test_the_cpu_decision_reads_this_machines_flags() -> None:
    flags = open("/proc/cpuinfo").read()
    assert native_bf16(cuda=False) is ("avx512_bf16" in flags or "amx_bf16" in flags)


def test_an_unknown_precision_is_a_violation_naming_the_field() -> None:
    from tests.unit.trainer.test_peft_options import _complete

    _, bad = _complete({"precision": "float16"})
    assert [v.field for v in bad] == ["training.params.precision"], bad
