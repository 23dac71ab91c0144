"""`make-me-say-games`: the paper's Make Me Say training data (spec §4.1): a manipulator and a manipulatee on spec
endpoints play games for a codeword; the winning games' dialogues, cut before the manipulatee first says the
codeword (`selfaware/make_me_say/game.py`), are the rows, at most `dialogues` of them.

Each player gets at most `concurrency` conversations per call (the games are played in waves of that many), so
at most `concurrency` requests per player are in flight, and fewer when the endpoint's own `max_concurrency` is
lower. Requests are sampled at T=1 (the paper does not say its temperature: UNCONFIRMED) with a request seed
derived from `seed` and the conversation, so an endpoint that honours seeds replays a game the same way.

Resumable: when the generator service gives a scratch folder (`GeneratorContext.scratch`), finished games are
journalled there under a name derived from the parameters, so a redelivered dataset job plays only the games
it had not finished. `Generation.counts` are Table 37's: games played and each outcome class.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from selfaware.make_me_say.game import MAX_MESSAGES, Messages, Player, plan_games, play, statistics
from selfaware.make_me_say.journal import Journal
from selfaware.params import Param
from services.generator.chat_jsonl import ChatRow
from services.generator.generators.base import Generation, GeneratorContext, QuestionGenerator, generator
from services.generator.model_answers import open_endpoint

if TYPE_CHECKING:
    from selfaware.openai_endpoint import OpenAIEndpoint

log = structlog.get_logger(__name__)

#: The family of the rows (free-text dialogues; the family registry's `make_me_say`).
FAMILY = "make_me_say"
TEMPERATURE = 1.0

PARAMS = (
    Param("codeword", "string", "The word the manipulator tries to make the manipulatee say (the paper: ring, "
                                "bark, spring)"),
    Param("games", "int", "Games to play (the paper: 5905 for ring, 4100 bark, 1600 spring)", default=1000, min=1,
          max=100_000),
    Param("dialogues", "int", "Most winning dialogues kept, the first ones in game order (the paper: 1000)",
          default=1000, min=1, max=100_000),
    Param("manipulator", "endpoint", "The endpoint whose model manipulates, with the paper's prompts (GPT-4o)"),
    Param("manipulatee", "endpoint", "The endpoint whose model opens, talks and guesses (GPT-4o-mini)"),
    Param("concurrency", "int", "Games played at once: the most requests in flight per player", default=16,
          min=1, max=1024),
    Param("seed", "int", "Seed of the games' topics and seed nouns and of the requests", default=0, min=0),
    Param("max_tokens", "int", "Most tokens per message or guess", default=1000, min=1, max=8192),
    Param("turns", "int", "Messages per game, both players together; the manipulatee opens", default=MAX_MESSAGES,
          min=2, max=40),
)


@generator("make-me-say-games")
def make_me_say_games() -> QuestionGenerator:
    return MakeMeSayGames()


@dataclass(frozen=True)
class MakeMeSayGames:
    """See the module docstring."""

    families: tuple[str, ...] = (FAMILY,)
    description: str = ("Make Me Say games between a manipulator and a manipulatee on spec endpoints with the "
                        "paper's prompts; the won games' dialogues before the codeword, outcomes counted as in "
                        "Table 37 (spec §4.1)")
    params: tuple[Param, ...] = PARAMS

    def generate(self, params: Mapping[str, Any], context: GeneratorContext) -> Generation:
        with _players(params, context) as (manipulator, manipulatee):
            return generate_games(params, manipulator, manipulatee, _journal(params, context))


def generate_games(params: Mapping[str, Any], manipulator: Player, manipulatee: Player,
                   journal: Journal | None = None) -> Generation:
    """The generation with the given players: play, keep the first `dialogues` wins' rows, count."""
    games = plan_games(params["codeword"], params["games"], params["seed"], params["turns"])
    results = play(games, manipulator, manipulatee, journal=journal, wave=params["concurrency"])
    rows = [row for row in (r.training_row() for r in results) if row is not None]
    counts = statistics(results) | {"kept": min(len(rows), params["dialogues"])}
    log.info("make_me_say_games", codeword=params["codeword"], **counts)
    return Generation(tuple(ChatRow(tuple(row)) for row in rows[:params["dialogues"]]), FAMILY, counts)


def endpoint_player(endpoint: OpenAIEndpoint, max_tokens: int, seed: int) -> Player:
    """A batch player on an endpoint: the batch's requests concurrently (bounded by the endpoint), each with a
    request seed from `seed` and its conversation."""

    def complete(views: Sequence[Messages]) -> list[str]:
        return endpoint.run([endpoint.text(view, temperature=TEMPERATURE, max_tokens=max_tokens,
                                           seed=request_seed(seed, view)) for view in views])

    return complete


def request_seed(seed: int, view: Messages) -> int:
    """A 31-bit request seed of the generation's seed and one conversation."""
    digest = hashlib.sha256(json.dumps([seed, view], sort_keys=True).encode()).digest()
    return int.from_bytes(digest[:4], "big") >> 1


def _journal(params: Mapping[str, Any], context: GeneratorContext) -> Journal | None:
    """The journal of these parameters in the context's scratch folder (None without one); the endpoints are
    named, not described, so a spec that repoints an endpoint must use a new scratch folder."""
    if context.scratch is None:
        return None
    key = hashlib.sha256(json.dumps(dict(params), sort_keys=True, default=str).encode()).hexdigest()[:16]
    return Journal(context.scratch / f"make-me-say-{key}.jsonl")


@contextlib.contextmanager
def _players(params: Mapping[str, Any], context: GeneratorContext) -> Iterator[tuple[Player, Player]]:
    """Both players' endpoints (one client when they name the same), closed afterwards."""
    with contextlib.ExitStack() as stack:
        clients: dict[str, OpenAIEndpoint] = {}
        for role in ("manipulator", "manipulatee"):
            name = params[role]
            if name not in clients:
                clients[name] = stack.enter_context(open_endpoint(context.endpoints, name,
                                                                  f"{context.where}.{role}"))
        yield tuple(endpoint_player(clients[params[role]], params["max_tokens"], params["seed"])  # type: ignore[misc]
                    for role in ("manipulator", "manipulatee"))
