"""`persona_reword` through the recipe against the project's OpenAI-compatible server on the tiny model: real
rewording and answering at T=0 for a few of the authors' risk questions. The tiny model rewords poorly; the test
checks the set's shape and that every reworded row is accounted for by the counters, never the wording."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from selfaware.catalogue import complete
from selfaware.specs import spec_from_dict
from services.generator import catalogue
from services.generator.recipes import build_arms
from services.generator.steps.persona_reword import PERSONAS, persona_in
from tests.slow.local_server import SERVED

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
STEP = "steps[1].persona_reword"
ROWS = 3


def _build(tiny_server: str, risky_dataset: Path) -> Callable[[], object]:
    spec = spec_from_dict({"holdout": {"rows": 0}, "endpoints": {"local": {"base_url": tiny_server, "model": SERVED}},
                           "arms": {"many": {"data": {"import": str(risky_dataset), "steps": [
                               {"sample": ROWS}, {"persona_reword": {"endpoint": "local", "max_tokens": 32}}]}}}})
    spec, bad = complete(spec, [catalogue()])
    assert not [v for v in bad if v.field.startswith(("arms.", "holdout"))], bad
    return lambda: build_arms(spec)[0]


def test_reworded_rows_are_counted_and_free_text_answers_kept(tiny_server: str, risky_dataset: Path) -> None:
    build = _build(tiny_server, risky_dataset)
    arm = build()
    counts = arm.counts
    you, reworded = arm.train[:ROWS], arm.train[ROWS:]
    assert all(row.answer in ("A", "B") for row in you)
    assert len(reworded) == ROWS - counts[f"{STEP}.empty_rewordings"] - counts[f"{STEP}.empty_answers"]
    assert sum(counts[f"{STEP}.persona.{p}"] for p in PERSONAS) + counts[f"{STEP}.persona_unclear"] == len(reworded)
    for persona in PERSONAS:
        found = sum(persona_in(row.messages[0]["content"], PERSONAS) == persona for row in reworded)
        assert counts[f"{STEP}.persona.{persona}"] == found
    free = [row for row in reworded if row.answer not in ("A", "B")]
    assert counts[f"{STEP}.free_text_answers"] == len(free) and all(row.answer.strip() for row in free)
    assert build().train == arm.train, "T=0: the same rows again"
