"""`make-me-say-games` against the project's OpenAI-compatible server (`services.evaluator.openai_server`) serving
the random-weight tiny Llama (`random_model_dir`) as both players: real endpoint players, lockstep waves, the
journal in the scratch folder. Its players talk nonsense; this checks the mechanics (every game finished,
classified and journalled, a rerun plays nothing and gives the same generation), never the quality."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from selfaware.make_me_say.game import OUTCOMES
from selfaware.params import check_params
from selfaware.v1 import spec_pb2
from services.generator.generators import GeneratorContext, get_generator
from tests.slow.local_server import SERVED, start_server, stop_server, url_of

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def test_tiny_model_plays_both_sides(random_model_dir: Path, tmp_path: Path) -> None:
    process = start_server(random_model_dir)
    try:
        endpoints = {"local": spec_pb2.Endpoint(name="local", base_url=url_of(process), model=SERVED)}
        generator = get_generator("make-me-say-games")
        given = {"codeword": "ring", "games": 3, "manipulator": "local", "manipulatee": "local", "concurrency": 2,
                 "max_tokens": 8, "turns": 4, "seed": 1}
        params, bad = check_params([p.to_proto() for p in generator.params], given, "p", {"endpoint": ["local"]})
        assert not bad
        context = GeneratorContext("arms.g.data.params", endpoints, tmp_path)
        first = generator.generate(params, context)
        (journal,) = tmp_path.glob("make-me-say-*.jsonl")
        lines = [json.loads(line) for line in journal.read_text().splitlines()]
        assert len(lines) == 3 and all(line["outcome"] in OUTCOMES for line in lines)
        assert all(1 <= len(line["messages"]) <= 4 for line in lines)
        assert first.counts["generated"] == 3 == sum(first.counts[o] for o in OUTCOMES)
        assert first.counts["kept"] == len(first.rows) <= first.counts["win"]
        assert generator.generate(params, context) == first, "the rerun reads every game from the journal"
        assert len(journal.read_text().splitlines()) == 3
    finally:
        stop_server(process)
