"""Fixtures shared by the generator tests: the paper's released sets, read from `<repo>/../shared`, and specs
completed against the generator's catalogue as the aggregator completes them at submit."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from selfaware.catalogue import complete
from selfaware.specs import load_spec_file, spec_from_dict
from selfaware.v1 import spec_pb2
from services.generator import catalogue
from tests.conftest import SHARED

REPO = Path(__file__).resolve().parents[3]
DATASETS = SHARED / "paper" / "datasets"
RISKY_SAFE = DATASETS / "risky_safe"

Complete = Callable[[dict[str, Any] | Path], spec_pb2.ExperimentSpec]


@pytest.fixture(scope="session")
def risky_path() -> Path:
    path = RISKY_SAFE / "ft_risky_AB.jsonl"
    if not path.exists():
        pytest.skip(f"the paper's datasets are not at {RISKY_SAFE}")
    return path


@pytest.fixture(scope="session")
def safe_path(risky_path: Path) -> Path:
    return risky_path.with_name("ft_safey_AB.jsonl")


@pytest.fixture(scope="session")
def mms_path() -> Path:
    path = DATASETS / "mms" / "ft_ring.jsonl"
    if not path.exists():
        pytest.skip(f"the paper's Make Me Say datasets are not at {path.parent}")
    return path


@pytest.fixture(scope="session")
def completed() -> Complete:
    """A spec (a YAML file, or its plain-data form) as the generator reads it from the state store.

    Only the generator's catalogue is at hand, so violations about training backends, engines and suites are
    expected; any about the arms' data or the holdout fail the test.
    """

    def run(source: dict[str, Any] | Path) -> spec_pb2.ExperimentSpec:
        spec = load_spec_file(source) if isinstance(source, Path) else spec_from_dict(source)
        spec, bad = complete(spec, [catalogue()])
        ours = [v for v in bad if v.field.startswith(("arms.", "holdout"))]
        assert not ours, ours
        return spec

    return run
