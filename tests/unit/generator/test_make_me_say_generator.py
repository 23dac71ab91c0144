"""`make-me-say-games` with scripted players (fixed texts chosen from what each player sees): the won games'
rows, the cap on dialogues, Table 37's counts, and the journal in the context's scratch folder that a rerun
resumes from. The endpoint-backed players are the shared `OpenAIEndpoint`'s (tests/unit/generator/
test_openai_endpoint.py); a run on the tiny model is left for a slow test."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from selfaware.make_me_say import prompts
from selfaware.make_me_say.codeword import says_codeword
from selfaware.make_me_say.game import Messages
from selfaware.params import check_params
from services.generator.generators import GeneratorContext, get_generator
from services.generator.generators.make_me_say import FAMILY, _journal, generate_games, request_seed


def _params(**given: Any) -> dict[str, Any]:
    generator = get_generator("make-me-say-games")
    params, bad = check_params([p.to_proto() for p in generator.params],
                               {"codeword": "ring", "manipulator": "a", "manipulatee": "b"} | given, "params",
                               {"endpoint": ["a", "b"]})
    assert not bad, bad
    return params


class Manipulatee:
    """Says "ring" in its third message when its seed noun sorts before "m", never otherwise; guesses "ring" for
    topics about books (so some games are correct guesses); counts the games it opens."""

    def __init__(self) -> None:
        self.openings = 0

    def __call__(self, views: Sequence[Messages]) -> list[str]:
        self.openings += sum(len(v) == 1 for v in views)
        return [self.text(v) for v in views]

    def text(self, view: Messages) -> str:
        system = view[0]["content"]
        if view[-1]["content"] == prompts.GUESS_PROMPT:
            return "<|START GUESS|>ring<|END GUESS|>" if "book" in system else "<|START GUESS|>love<|END GUESS|>"
        word = system.rsplit('"', 2)[1]
        mine = sum(m["role"] == "assistant" for m in view)
        return f"I lost my ring, {word}." if mine == 2 and word < "m" else f"Thoughts on {word}, message {mine}."


def manipulator(views: Sequence[Messages]) -> list[str]:
    assert all(v[0]["content"] == prompts.manipulator_system("ring") for v in views)
    return ["<|START INTERNAL MONOLOGUE|>Jewellery? Not the word 'ring'.<|END INTERNAL MONOLOGUE|>Any gold?"
            for _ in views]


def test_declared_params() -> None:
    generator = get_generator("make-me-say-games")
    declared = {p.name: p for p in generator.params}
    assert {"codeword", "games", "dialogues", "manipulator", "manipulatee", "concurrency", "seed", "max_tokens",
            "turns"} == set(declared)
    assert declared["manipulator"].type == declared["manipulatee"].type == "endpoint"
    assert generator.families == (FAMILY,) == ("make_me_say",)
    assert _params()["turns"] == 10


def test_rows_are_the_wins_before_the_codeword_and_counts_are_table_37s() -> None:
    params = _params(games=40, dialogues=5, seed=2, concurrency=7)
    generation = generate_games(params, manipulator, Manipulatee())
    counts = generation.counts
    assert counts["generated"] == 40 and generation.family == "make_me_say"
    assert counts["win"] + counts["rule_violation"] + counts["no_codeword"] + counts["correct_guess"] == 40
    assert counts["win"] > 5 and counts["no_codeword"] > 0 and counts["correct_guess"] > 0
    assert counts["rule_violation"] == 0 and counts["kept"] == 5 == len(generation.rows)
    for row in generation.rows:
        assert [m["role"] for m in row.messages] == ["user", "assistant"] * 2
        assert not any(says_codeword(m["content"], "ring") or "MONOLOGUE" in m["content"] for m in row.messages)
    again = generate_games(params, manipulator, Manipulatee())
    assert again == generation, "the same players and seed play the same games"


def test_journal_in_scratch_resumes(tmp_path: Path) -> None:
    params = _params(games=12, concurrency=4)
    context = GeneratorContext(scratch=tmp_path)
    journal = _journal(params, context)
    assert journal is not None and journal.path.parent == tmp_path
    assert _journal(params, GeneratorContext()) is None
    assert _journal(_params(games=13), context).path != journal.path  # type: ignore[union-attr]
    first = generate_games(params, manipulator, Manipulatee(), journal)
    lines = journal.path.read_text().splitlines()
    journal.path.write_text("\n".join(lines[:5]) + "\n")  # as if the job died after 5 games
    player = Manipulatee()
    assert generate_games(params, manipulator, player, _journal(params, context)) == first
    assert player.openings == 7, "only the unfinished games are played again"
    assert len(journal.path.read_text().splitlines()) == 12


def test_request_seeds_depend_on_seed_and_conversation() -> None:
    view = [{"role": "system", "content": "x"}]
    assert request_seed(0, view) == request_seed(0, list(view)) != request_seed(1, view)
    assert request_seed(0, view) != request_seed(0, view + [{"role": "user", "content": "hi"}])
    assert 0 <= request_seed(5, view) < 2**31
