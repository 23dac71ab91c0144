"""The `auto` engine: each query kind goes to the faster engine for the device, with no choice asked of the user."""

from __future__ import annotations

from pathlib import Path

import pytest

from selfaware.specs import load_spec_file, with_defaults
from services.evaluator.config import EvaluatorConfig
from services.evaluator.engines import ChoiceRequest, SampleRequest, build_engine
from services.evaluator.engines.auto_engine import choose
from tests.slow.mixed_batch import PROMPTS

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def test_auto_picks_hf_for_both_kinds_on_cpu_and_vllm_on_cuda():
    assert (choose("cpu", "sample"), choose("cpu", "next_token_probs")) == ("hf", "hf")
    assert (choose("cuda", "sample"), choose("cuda", "next_token_probs")) == ("vllm", "vllm")


def test_auto_answers_as_the_hf_engine_on_cpu_with_one_base_load(random_model_dir: Path):
    options = EvaluatorConfig().engine_options("auto")
    auto = build_engine("auto", str(random_model_dir), **options)
    hf = build_engine("hf", str(random_model_dir), **options["hf"])
    try:
        samples = [SampleRequest(PROMPTS[0], None, n=3, temperature=1.0, max_tokens=4, seed=5)]
        choices = [ChoiceRequest(PROMPTS[1])]
        assert auto.sample(samples) == hf.sample(samples)
        assert auto.next_token_probs(choices) == hf.next_token_probs(choices)
        assert list(auto.engines) == ["hf"]  # both kinds served by one loaded model; vLLM never started
    finally:
        auto.close()
        hf.close()


def test_auto_is_the_default_engine_and_refuses_unknown_options(random_model_dir: Path, tmp_path: Path):
    example = Path(__file__).resolve().parents[2] / "examples/risk.yaml"
    unstated = tmp_path / "risk.yaml"
    unstated.write_text("".join(line for line in example.read_text().splitlines(keepends=True)
                                if not line.strip().startswith("engine:")))
    assert with_defaults(load_spec_file(unstated)).evaluation.engine == "auto"
    with pytest.raises(ValueError, match="dtype: not an option of the auto engine"):
        build_engine("auto", str(random_model_dir), dtype="float32")
