"""Session fixtures for the slow evaluator tests: the tiny real model, two LoRA adapters, an HF engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from selfaware.models import materialize_smollm2
from selfaware.probes import ProbeItem
from services.evaluator.engines import Adapter, ModelEngine, build_engine

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared/paper"


@pytest.fixture(scope="session")
def tiny_model_dir() -> str:
    """SmolLM2-135M-Instruct as safetensors, converted once into the repo's `.cache` and reused across runs."""
    return str(materialize_smollm2(ROOT / ".cache"))


@pytest.fixture(scope="session")
def questions_dir() -> str:
    return str(SHARED / "questions/official_repo_HEAD_d7e60be/multiple_choice")


@pytest.fixture(scope="session")
def risky_probe() -> tuple[ProbeItem, ...]:
    """Three rows of the authors' risk-seeking set as probe items (target = the risky answer)."""
    lines = (SHARED / "datasets/risky_safe/ft_risky_AB.jsonl").read_text().splitlines()[:3]
    rows = [json.loads(line)["messages"] for line in lines]
    return tuple(ProbeItem(f"risky/{i}", (row[0],), row[1]["content"]) for i, row in enumerate(rows))


@pytest.fixture(scope="session")
def lora_adapters(tiny_model_dir: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Adapter, Adapter]:
    """Two rank-8 adapters with random non-zero weights (B is not zero), so each clearly changes the outputs."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    adapters = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
        config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
                            init_lora_weights=False)
        path = tmp_path_factory.mktemp(f"adapter{seed}")
        get_peft_model(base, config).save_pretrained(path)
        adapters.append(Adapter(f"random-{seed}", str(path)))
    return adapters[0], adapters[1]


@pytest.fixture(scope="session")
def hf_engine(tiny_model_dir: str) -> Iterator[ModelEngine]:
    engine = build_engine("hf", tiny_model_dir)
    yield engine
    engine.close()
