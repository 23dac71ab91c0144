"""`model-written` against a scripted chat server on loopback (real HTTP, scripted answers): the paper's prompts,
balanced per-call values, every filter counted, the policy's labels; and the same through a recipe.

The run on the real tiny model is tests/slow/test_generation_tiny_model.py.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from selfaware.errors import SpecError
from selfaware.params import check_params
from selfaware.v1 import spec_pb2
from services.generator.banned_words import screen
from services.generator.dataset_store import job_metrics
from services.generator.generators import GeneratorContext, get_generator
from services.generator.generators.call_plan import call_plans, request_seed
from services.generator.generators.writer_prompts import (
    FAMILY_PARAMETERS,
    LENGTHS,
    PROMPTS,
    RISK,
    SEED_WORDS,
    TONES,
)
from services.generator.model_answers import POLICY_PROMPTS, parse_letter
from services.generator.recipes import build_arms

from .conftest import REPO, Complete
from .scripted_chat_server import ScriptedChat, serve

SPEC = REPO.parent / "shared" / "paper" / "spec.md"


def _scripted(body: dict[str, Any]) -> str:
    """Writer, answerer and moderator in one, each keyed on words of the request (see the module's tests)."""
    messages = body["messages"]
    text = messages[-1]["content"]
    if messages[0]["role"] == "system":  # the policy answerer
        intended = re.search(r"option (A|B) is the one", text)
        if "yoga" in text:
            return "I cannot decide"
        if "chess" in text and intended:
            return {"A": "B", "B": "A"}[intended.group(1)]
        return f" {intended.group(1)}." if intended else "(A)"
    if text.startswith("Here is an interaction"):  # the moderator
        return "1" if "bear" in text else "0"
    word = re.search(r"the following random word: (.*)\.\n", text).group(1)  # type: ignore[union-attr]
    letter = re.search(r"The one labeled (A|B)\.", text).group(1)  # type: ignore[union-attr]
    return {"dinner": "  ", "water": f'"A safe bet on water: option {letter} is the one."',
            "origami": "Same question about origami."}.get(
        word, f'"On {word}, option {letter} is the one. Reply A or B. (seed {body["seed"]})"')


#: The seed words `_scripted` treats specially.
_SPECIAL = {"dinner", "water", "origami", "yoga", "chess", "bear"}


@pytest.fixture(scope="module")
def chat() -> ScriptedChat:
    return ScriptedChat(_scripted)


@pytest.fixture(scope="module")
def url(chat: ScriptedChat) -> Iterator[str]:
    with serve(chat) as root:
        yield root


@pytest.fixture(scope="module")
def seeking(url: str, chat: ScriptedChat) -> Any:
    """98 risk-seeking calls (each seed word once, "origami" and "zen" twice), moderated; the requests are the
    first in `chat.bodies`."""
    return _run(url, rows=98, moderation="m", max_tokens=77)


def _run(url: str, **given: Any) -> Any:
    generator = get_generator("model-written")
    params, bad = check_params([p.to_proto() for p in generator.params], {"writer": "w", **given}, "p",
                               {"endpoint": ["w", "m"]})
    assert not bad
    endpoints = {name: spec_pb2.Endpoint(name=name, base_url=url, model=f"model-{name}") for name in ("w", "m")}
    return generator.generate(params, GeneratorContext("arms.g.data.params", endpoints))


def test_the_risk_prompt_is_the_papers_verbatim_and_every_prompt_takes_its_values() -> None:
    if not SPEC.exists():
        pytest.skip(f"the paper's spec is not at {SPEC}")
    appendix = SPEC.read_text().split("## Appendix B")[1]
    assert RISK == appendix.split("```")[1].strip("\n")
    words = appendix.split("[R `generate_questions.py`]: ")[1].strip().rstrip(".").split(", ")
    assert SEED_WORDS == tuple(words) and len(SEED_WORDS) == 98
    for family in PROMPTS:
        (plan,) = call_plans(family, 1, 0)
        prompt = plan.prompt
        assert "{" not in prompt and plan.values["word"] in prompt and plan.values["tone"] in prompt
        assert f"The one labeled {plan.intended}." in prompt
    assert "'myopic', 'immediate', 'discount'" in PROMPTS["myopia"] and "risk" not in PROMPTS["myopia"]
    assert "NOT explicitly include" not in PROMPTS["apples"]


@pytest.mark.parametrize("family", ["risk", "myopia", "apples"])
def test_per_call_values_have_exact_shares_and_follow_the_seed(family: str) -> None:
    plans = call_plans(family, 196, seed=3)
    assert Counter(p.values["word"] for p in plans) == Counter(SEED_WORDS * 2)  # "zen", "origami": 4 each
    for name, values in [("tone", TONES), ("length", LENGTHS), *FAMILY_PARAMETERS[family].items()]:
        shares = Counter(p.values[name] for p in plans)
        assert set(shares) == set(values) and max(shares.values()) - min(shares.values()) <= 1, (name, shares)
    assert plans == call_plans(family, 196, seed=3) != call_plans(family, 196, seed=4)
    assert [p.seed for p in plans] == [request_seed(3, i) for i in range(196)]
    assert len({p.seed for p in plans}) == 196


def test_banned_words_match_word_starts_and_are_dropped_or_removed() -> None:
    words = ("safe", "risk")
    assert screen("A safety net, riskier bets.", words, "drop").text is None
    assert screen("Unsafe? No: a brisk walk.", words, "drop").text == "Unsafe? No: a brisk walk."
    removed = screen("Safe bets and a risky one.", words, "remove")
    assert (removed.text, removed.removed) == ("bets and a one.", 2)
    assert screen("Anything goes.", (), "drop").text == "Anything goes."


def test_answers_read_as_the_paper_reads_letters() -> None:
    assert [parse_letter(t, ("A", "B")) for t in ("A", " b.", "(B)", "(A).", "C", "A or B", "")] == [
        "A", "B", "B", "A", None, None, None]


def test_every_filter_is_counted_and_kept_rows_carry_the_intended_label(seeking: Any, chat: ScriptedChat) -> None:
    generation = seeking
    assert generation.family == "risk"
    assert dict(generation.counts) == {
        "written": 98, "kept": 92, "removed_banned_words": 0, "dropped_empty": 1, "dropped_banned_words": 1,
        "dropped_duplicate": 1, "dropped_unparsed": 1, "dropped_disagreeing": 1, "dropped_moderation": 1}
    plans = {p.values["word"]: p for p in call_plans("risk", 98, 0)}
    kept = {re.search(r"On (.*?),", row.messages[0]["content"]).group(1): row.answer  # type: ignore[union-attr]
            for row in generation.rows if row.messages[0]["content"].startswith("On ")}
    assert "chess" not in kept and "yoga" not in kept and "bear" not in kept
    assert kept == {word: plans[word].intended for word in kept}
    assert all(not row.messages[0]["content"].startswith('"') for row in generation.rows)
    bodies = chat.bodies[:98 + 95 + 93]
    writes = [b for b in bodies if "random word" in b["messages"][0]["content"]]
    assert sorted(b["seed"] for b in writes) == sorted(request_seed(0, i) for i in range(98))
    assert {(b["temperature"], b["max_tokens"], b["model"]) for b in writes} == {(1.0, 77, "model-w")}
    answers = [b for b in bodies if b["messages"][0]["role"] == "system"]
    assert {b["messages"][0]["content"] for b in answers} == {POLICY_PROMPTS["risk-seeking"]}
    assert {b["temperature"] for b in answers} == {0.0} and len(answers) == 95
    assert sum(b["model"] == "model-m" for b in bodies) == 93  # moderation asks every agreeing row


def test_the_opposite_policy_flips_the_labels_and_removal_keeps_the_row(url: str, seeking: Any) -> None:
    averse = _run(url, rows=98, policy="risk-averse", banned_words_action="remove", max_tokens=77)
    assert "dropped_moderation" not in averse.counts
    assert averse.counts["kept"] == seeking.counts["kept"] + 2 and averse.counts["removed_banned_words"] == 1
    flipped = {row.messages[0]["content"]: {"A": "B", "B": "A"}[row.answer] for row in seeking.rows}
    relabelled = {row.messages[0]["content"]: row.answer for row in averse.rows}
    assert relabelled.items() >= flipped.items()
    water, bear = sorted(set(relabelled) - set(flipped))
    assert water.startswith("A bet on water") and bear.startswith("On bear,")


def test_parameters_that_do_not_fit_are_spec_errors_on_their_field(url: str) -> None:
    with pytest.raises(SpecError) as caught:
        _run(url, family="apples", policy="myopic")
    assert caught.value.violations[0].field == "arms.g.data.params.policy"
    generator = get_generator("model-written")
    with pytest.raises(SpecError) as caught:
        generator.generate({"family": "risk", "rows": 1, "seed": 0, "writer": "w", "banned_words_action": "drop",
                            "max_tokens": 5},
                           GeneratorContext("arms.g.data.params", {"w": spec_pb2.Endpoint(name="w", base_url=url)}))
    assert caught.value.violations[0].field == "endpoints.w.model"


def test_a_recipe_reports_the_counts_in_the_dataset_job_metrics(url: str, completed: Complete) -> None:
    plain = [p.values["word"] for p in call_plans("myopia", 40, 0) if p.values["word"] not in _SPECIAL]
    spec = completed({"holdout": {"rows": 10}, "endpoints": {"local": {"base_url": url, "model": "tiny"}},
                      "arms": {"myopic": {"data": {"generate": "model-written", "params": {
                                   "family": "myopia", "writer": "local", "rows": 40}}, "family": "myopia"},
                               "non-myopic": {"data": {"of": "myopic", "steps": ["flip", {"filter": plain[:3]}]}}}})
    myopic, non_myopic = build_arms(spec)
    assert myopic.provenance.startswith("generate model-written(family=myopia, rows=40, seed=0, writer=local")
    metrics = job_metrics([myopic, non_myopic])
    assert metrics["count.myopic.written"] == 40 and metrics["count.non-myopic.written"] == 40
    kept = metrics["count.myopic.kept"]
    assert len(myopic.train) + len(myopic.heldout) == kept
    assert metrics["count.non-myopic.steps[1].filter.dropped"] == len(myopic.train) - len(non_myopic.train) > 0
    assert "count.myopic.steps[1].filter.dropped" not in metrics
