"""The evaluator's engine stays loaded across shards and experiments: one base-model load serves every evaluation
of that base model (issue 14, P4), and a different base model replaces it rather than piling up beside it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from services.evaluator.config import EvaluatorConfig
from services.evaluator.engine_pool import EnginePool
from services.evaluator.engines import ModelEngine, SampleRequest

pytestmark = pytest.mark.slow


def answer(engine: ModelEngine) -> tuple[ModelEngine, list[list[str]]]:
    """The engine a shard ran on, and a short sample (so the engine really served a request)."""
    request = SampleRequest(messages=[{"role": "user", "content": "Risk or safety?"}], adapter=None, n=2,
                            temperature=1.0, max_tokens=3, seed=0)
    return engine, engine.sample([request])


async def test_shards_of_two_experiments_share_one_loaded_engine(random_model_dir: Path, tmp_path: Path) -> None:
    pool = EnginePool(EvaluatorConfig(data_dir=tmp_path))
    try:
        first, answers = await pool.run("hf", str(random_model_dir), answer)  # experiment 1, shard 0.0
        second, _ = await pool.run("hf", str(random_model_dir), answer)  # experiment 2 (or shard 0.1)
        assert second is first  # not rebuilt: the base model was loaded once
        assert len(answers[0]) == 2
    finally:
        await pool.close()


async def test_another_base_model_replaces_the_loaded_engine(random_model_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-base"
    shutil.copytree(random_model_dir, other)
    pool = EnginePool(EvaluatorConfig(data_dir=tmp_path))
    try:
        first, _ = await pool.run("hf", str(random_model_dir), answer)
        second, _ = await pool.run("hf", str(other), answer)
        third, _ = await pool.run("hf", str(other), answer)
        assert second is not first and third is second  # switched once, then warm again
    finally:
        await pool.close()
