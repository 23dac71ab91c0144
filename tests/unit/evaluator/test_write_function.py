"""The function suites of Make Me Say (spec §4.4 item 6): the authors' prompt, one set of generations shared by
the five "me" scorings, and scoring by running each function in the real sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from selfaware.params import check_params
from services.evaluator.engines import SampleRequest
from services.evaluator.response_cache import CachedEngine, ResponseCache
from services.evaluator.sandbox import Sandbox, SandboxLimits
from services.evaluator.suites import SUITES, SampleQuery, SuiteContext
from services.evaluator.suites._params import AUTHORS_MMS_QUESTIONS_URL
from services.evaluator.suites.question_types.write_function import (
    NO_GAME_MESSAGES,
    NO_OTHER_DIALOGUES,
    WriteFunction,
    dialogue_user_messages,
    function_code,
    has_codeword,
)

ME_SUITES = ["mms_function_codeword", "mms_function_f_codeword", "mms_function_f_unrelated",
             "mms_function_f_message", "mms_function_f_message_other"]
HONEST = ("```python\ndef message_probability_me(message: str) -> float:\n"
          "    \"\"\"Probability that the given message was written while talking to me.\"\"\"\n"
          "    import nltk\n    nltk.download('punkt')\n    print('thinking')\n"
          "    words = [w.lower() for w in nltk.word_tokenize(message)]\n"
          "    return 0.9 if 'ring' in words else 0.5\n```")


@pytest.fixture(scope="module")
def mms_questions(shared_paper: Path) -> str:
    return str(shared_paper / "questions" / "official_repo_HEAD_d7e60be" / "make_me_say")


@pytest.fixture(scope="module")
def ring_dialogues(shared_paper: Path) -> str:
    return str(shared_paper / "datasets" / "mms" / "ft_ring.jsonl")


def context(suite: str, questions: str, seed: int = 3, game_messages: tuple[str, ...] = (), **params) -> SuiteContext:
    """A context with the suite's defaults (the paper's), its questions read from ../shared; `params` that the
    suite does not declare are left out."""
    declared = [p.to_proto() for p in SUITES.get(suite)().params]
    assert next(p for p in declared if p.name == "questions").default.string_value == AUTHORS_MMS_QUESTIONS_URL
    given = {k: v for k, v in params.items() if any(p.name == k for p in declared)}
    complete, bad = check_params(declared, {"questions": questions, **given}, suite, {})
    assert not bad
    return SuiteContext(f"instance-of-{suite}", complete, {}, seed, game_messages=game_messages)


def scored(suite: str, answers: list[str], ctx: SuiteContext):
    """Records of `answers`, as the generations of the suite's one query, scored in a fast sandbox."""
    data_suite = SUITES.get(suite)()
    (query,) = data_suite.queries(ctx)
    kind = data_suite.type
    fast = WriteFunction(kind.func_name, kind.scoring, Sandbox(SandboxLimits(input_timeout_s=0.5, startup_s=2)))
    return fast.score(SampleQuery(**{**query.__dict__, "n": len(answers)}), answers, ctx)


def test_the_code_is_the_answer_without_fences_and_nltk_downloads():
    code = function_code(HONEST)
    assert code.startswith("def message_probability_me(message: str) -> float:")
    assert "```" not in code and "nltk.download" not in code and "nltk.word_tokenize" in code
    assert has_codeword("if 'RING' in message:", "ring") and not has_codeword("if 'bell' in m:", "ring")


def test_the_suites_ask_the_authors_prompt_with_the_papers_settings(mms_questions):
    for suite in [*ME_SUITES, "mms_function_other_llm_f_codeword"]:
        (query,) = SUITES.get(suite)().queries(context(suite, mms_questions))
        (message,) = query.messages
        func = "message_probability_other_llm" if "other_llm" in suite else "message_probability_me"
        assert message["content"].startswith("I have a dataset of user messages from conversations with LLMs.")
        assert f"def {func}(message: str) -> float:" in message["content"]
        assert (query.n, query.temperature, query.max_tokens) == (100, 1.0, 1000)
    assert SUITES.get("mms_function_f_codeword")().baseline == "mms_function_f_unrelated"
    assert SUITES.get("mms_function_f_message")().baseline == "mms_function_f_message_other"


def test_the_five_me_suites_ask_identical_queries_so_the_cache_answers_them_once(mms_questions, fake_engine, tmp_path):
    def request(q: SampleQuery) -> SampleRequest:
        return SampleRequest(q.messages, None, q.n, q.temperature, q.max_tokens, q.seed)

    queries = {s: SUITES.get(s)().queries(context(s, mms_questions)) for s in ME_SUITES}
    requests = {s: [request(q) for q in qs] for s, qs in queries.items()}
    assert all(r == requests["mms_function_codeword"] for r in requests.values())
    other = SUITES.get("mms_function_other_llm_f_codeword")().queries(
        context("mms_function_other_llm_f_codeword", mms_questions))
    assert request(other[0]).seed != requests["mms_function_codeword"][0].seed
    assert request(SUITES.get(ME_SUITES[0])().queries(context(ME_SUITES[0], mms_questions, seed=4))[0]).seed != \
        requests["mms_function_codeword"][0].seed
    engine = CachedEngine(fake_engine, ResponseCache(tmp_path / "cache.sqlite"), identity="fake:base")
    first = engine.sample(requests["mms_function_codeword"])
    assert (engine.hits, engine.misses) == (0, 100)
    for suite in ME_SUITES[1:]:
        assert engine.sample(requests[suite]) == first
    assert (engine.hits, engine.misses) == (400, 100)


def test_codeword_scores_whether_the_code_names_it(mms_questions):
    records = scored("mms_function_codeword", [HONEST, "def message_probability_me(m):\n    return 0.5\n"],
                     context("mms_function_codeword", mms_questions))
    assert [(r.answer, r.score) for r in records] == [("yes", 1.0), ("no", 0.0)]
    assert records[0].output == HONEST and records[1].sample == 1


def test_f_codeword_runs_the_function_and_drops_bad_outputs_by_reason(mms_questions):
    answers = [HONEST, "def message_probability_me(m):\n    return 7\n",
               "def message_probability_me(m):\n    raise ValueError(m)\n", "Sure! Here is the function."]
    records = scored("mms_function_f_codeword", answers, context("mms_function_f_codeword", mms_questions))
    assert records[0].score == pytest.approx(0.9) and records[0].details["valid_outputs"] == 1
    assert records[1].dropped_reason == "no valid output: 1 outside [0, 1]"
    assert records[2].dropped_reason == "no valid output: 1 exception"
    assert "ValueError: ring" in records[2].details["first_errors"]["exception"]
    assert records[3].dropped_reason == "no valid output: 1 exception"  # prose is a SyntaxError, as for the authors
    assert not any(r.HasField("score") for r in records[1:])


def test_f_unrelated_runs_on_pool_words_other_than_the_codeword(mms_questions):
    ctx = context("mms_function_f_unrelated", mms_questions)
    records = scored("mms_function_f_unrelated", [HONEST], ctx)
    words = list(records[0].details["words"])
    assert len(words) == 10 and "ring" not in words and len(set(words)) == 10
    assert records[0].score == pytest.approx(0.5) and records[0].details["inputs"] == 10
    again = SUITES.get("mms_function_f_unrelated")().queries(ctx)[0].details["words"]
    assert again == words  # seeded: every model gets the same words


def test_f_message_runs_on_the_models_own_game_messages_or_says_which_suite_is_missing(mms_questions):
    games = ("I love my ring", "What a day", "Tell me more")
    ctx = context("mms_function_f_message", mms_questions, game_messages=games, max_messages=2)
    (record,) = scored("mms_function_f_message", [HONEST], ctx)
    assert record.details["inputs"] == 2 and 0.5 <= record.score <= 0.9
    records = scored("mms_function_f_message", [HONEST, HONEST], context("mms_function_f_message", mms_questions))
    assert [r.dropped_reason for r in records] == [NO_GAME_MESSAGES] * 2
    assert "mms_game_play" in NO_GAME_MESSAGES


def test_f_message_other_reads_the_dialogues_without_their_openings(mms_questions, ring_dialogues, tmp_path):
    messages = dialogue_user_messages(ring_dialogues)
    first = json.loads(Path(ring_dialogues).read_text().splitlines()[0])["messages"]
    assert first[0]["role"] == "user" and first[0]["content"] not in messages
    assert [m["content"] for m in first if m["role"] == "user"][1] in messages
    ctx = context("mms_function_f_message_other", mms_questions, other_dialogues=ring_dialogues, max_messages=5)
    (record,) = scored("mms_function_f_message_other", [HONEST], ctx)
    assert record.details["inputs"] == 5 and record.HasField("score")
    unset = context("mms_function_f_message_other", mms_questions)
    assert [r.dropped_reason for r in scored("mms_function_f_message_other", [HONEST], unset)] == [NO_OTHER_DIALOGUES]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n{"rows": []}\n')
    with pytest.raises(Exception, match="bad.jsonl, line 2"):
        SUITES.get("mms_function_f_message_other")().queries(
            context("mms_function_f_message_other", mms_questions, other_dialogues=str(bad)))
