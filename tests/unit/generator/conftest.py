"""Fixtures shared by the generator tests: the paper's released risk sets, read from `<repo>/../shared`."""

from __future__ import annotations

from pathlib import Path

import pytest

RISKY_SAFE = Path(__file__).resolve().parents[3].parent / "shared" / "paper" / "datasets" / "risky_safe"


@pytest.fixture(scope="session")
def risky_path() -> Path:
    path = RISKY_SAFE / "ft_risky_AB.jsonl"
    if not path.exists():
        pytest.skip(f"the paper's datasets are not at {RISKY_SAFE}")
    return path


@pytest.fixture(scope="session")
def safe_path(risky_path: Path) -> Path:
    return risky_path.with_name("ft_safey_AB.jsonl")
