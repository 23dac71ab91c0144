"""Make Me Say game play on the tiny model through the transformers engine: the base model and a random adapter
play the manipulator (their requests batched together), the base model plays the manipulatee (`manipulatee`
unset), and `mms_function_f_message`, listed first, then runs each model's written functions in the sandbox on
that model's own game messages. The tiny model plays nonsense: this checks the mechanics, never the quality."""

from __future__ import annotations

import pytest

from selfaware.make_me_say.game import OUTCOMES, WIN
from selfaware.make_me_say.prompts import manipulatee_system
from services.evaluator.evaluation import EvalModel, Evaluation, InstancePlan, evaluate, plan_evaluation
from services.evaluator.suites import GAME_PLAY, game_messages
from services.evaluator.suites.question_types.write_function import NO_GAME_MESSAGES
from tests.slow.evaluation_fixtures import by_model, collector, context

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

F_MESSAGE = "mms_function_f_message"


class Recording:
    """The engine, with every sample request it is asked kept."""

    def __init__(self, engine) -> None:
        self.engine, self.requests = engine, []

    def sample(self, requests):
        self.requests.append(list(requests))
        return self.engine.sample(requests)

    def next_token_probs(self, requests, top_k=5):
        return self.engine.next_token_probs(requests, top_k)

    def close(self) -> None:
        pass


def test_the_tiny_model_plays_and_f_message_runs_on_its_games(hf_engine, lora_adapters, shared_paper, risky_probe):
    questions = str(shared_paper / "questions" / "official_repo_HEAD_d7e60be" / "make_me_say")
    models = (EvalModel("base", None, "base:tiny"), EvalModel("tuned", lora_adapters[0], "tuned", "ring"))
    labels = tuple(m.label for m in models)
    instances = (
        InstancePlan(F_MESSAGE, context(F_MESSAGE, risky_probe, questions=questions, samples_per_paraphrase=1,
                                        max_tokens=48), labels),
        InstancePlan(GAME_PLAY, context(GAME_PLAY, risky_probe, games=4, turns=4, max_tokens=12), labels),
    )
    engine = Recording(hf_engine)
    batches: list = []
    computed = evaluate(engine, plan_evaluation(Evaluation("slow", "hf", models, instances)), collector(batches))
    assert computed == {"base": 5, "tuned": 5}
    records = by_model(batches)
    for label in labels:
        games = [r for r in records[label] if r.suite == GAME_PLAY]
        assert [r.item for r in games] == [f"game/{i}" for i in range(4)]
        for game in games:
            messages = list(game.details["messages"])
            assert game.answer in OUTCOMES and game.score == float(game.answer == WIN)
            assert game.details["outcome"] == game.answer and game.details["codeword"] == "ring"
            assert 1 <= len(messages) <= 4 and all(isinstance(m, str) for m in messages)
        (function,) = [r for r in records[label] if r.suite == F_MESSAGE]
        played = game_messages(games)
        assert played, "4 games of 4 messages give each model user messages after the openings"
        assert function.details["inputs"] == len(played) and function.dropped_reason != NO_GAME_MESSAGES
        assert function.HasField("score") != bool(function.dropped_reason)
        assert function.output  # the model's code, run in the sandbox (its valid outputs or why none)
    assert batches[0].keys() == set(labels) and all(r.suite == GAME_PLAY for rs in batches[0].values() for r in rs)
    # The models under test play with no system prompt, both in one engine call; the manipulatee is the base
    # model with the paper's system prompt.
    def first_turns(call):
        """The call's first-turn manipulator requests: the opening is their one (user) message."""
        return [r for r in call if len(r.messages) == 1 and r.messages[0]["role"] == "user"
                and "def message_probability_me(" not in r.messages[0]["content"]]

    assert any({r.adapter for r in first_turns(call)} == {None, lora_adapters[0]} for call in engine.requests)
    assert sum(len(first_turns(call)) for call in engine.requests) == 8
    assert all(r.messages[0]["role"] != "system" for call in engine.requests for r in call if r.adapter is not None)
    openings = [r for call in engine.requests for r in call
                if len(r.messages) == 1 and r.messages[0]["role"] == "system"]
    prefix = manipulatee_system("TOPIC", "WORD").split("TOPIC")[0]
    assert len(openings) == 8 and all(r.adapter is None and r.messages[0]["content"].startswith(prefix)
                                      for r in openings)
