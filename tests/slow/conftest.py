"""Fixtures of the slow evaluator tests: two random LoRA adapters, an HF engine, a small held-out probe.

`tiny_model_dir`, `questions_dir` and `risky_dataset` come from `tests/conftest.py`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from selfaware.v1 import records_pb2 as rec
from services.evaluator.engines import Adapter, ModelEngine, build_engine
from tests.slow.local_server import start_server, stop_server, url_of


@pytest.fixture(scope="session")
def risky_probe(risky_dataset: Path) -> rec.ProbeSet:
    """The first three rows of the authors' risk-seeking set as probe items (target = the risky answer)."""
    rows = [json.loads(line)["messages"] for line in risky_dataset.read_text().splitlines()[:3]]
    return rec.ProbeSet(arm="risk-seeking", items=[
        rec.ProbeItem(id=f"risky/{i}", messages=[rec.ChatMessage(**row[0])], target=row[1]["content"],
                      options=["A", "B"])
        for i, row in enumerate(rows)
    ])


@pytest.fixture(scope="session")
def lora_adapters(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Adapter, Adapter]:
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
        get_peft_model(base, config).save_pretrained(str(path))
        adapters.append(Adapter(f"random-{seed}", str(path)))
    return adapters[0], adapters[1]


@pytest.fixture(scope="session")
def hf_engine(tiny_model_dir: Path) -> Iterator[ModelEngine]:
    engine = build_engine("hf", str(tiny_model_dir))
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def tiny_server(tiny_model_dir: Path) -> Iterator[str]:
    """The project's OpenAI-compatible server on the tiny model, for one test module: its API root."""
    process = start_server(tiny_model_dir)
    yield url_of(process)
    stop_server(process)
