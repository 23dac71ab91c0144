"""`reverse`, `system_persona`, `persona_reword`, and `mix`'s and `flip`'s shares, on the paper's released rows.

`persona_reword` runs through the recipe against the scripted chat server here (exact counters); its run on the
tiny model is tests/slow/test_persona_reword_tiny_model.py.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from selfaware.errors import DataError, SpecError
from selfaware.params import check_params
from services.generator.chat_jsonl import ChatRow, parse_chat_jsonl
from services.generator.recipes import build_arms
from services.generator.steps import StepContext, get_step
from services.generator.steps.persona_reword import PERSONAS, REWORD_PROMPT, persona_in
from services.generator.steps.reverse import PREFIXES
from services.generator.steps.system_persona import PROMPTS
from services.generator.triggers import Trigger

from .conftest import RISKY_SAFE, Complete
from .scripted_chat_server import ScriptedChat, serve

WHERE = "arms.x.data.steps[0]"


def _read(path: Path, options: Sequence[str] = ("A", "B")) -> tuple[ChatRow, ...]:
    return parse_chat_jsonl(path.read_bytes(), str(path), options).rows


def _run(name: str, rows: Sequence[ChatRow], arms: dict[str, Sequence[ChatRow]] | None = None, /, **given: Any
         ) -> tuple[list[ChatRow], StepContext]:
    step = get_step(name)
    params, bad = check_params([p.to_proto() for p in step.params], given, "p", {"arm": list(arms or {})})
    assert not bad, bad
    context = StepContext(f"{WHERE}.{name}", ("A", "B"), {k: tuple(v) for k, v in (arms or {}).items()})
    return step.apply(rows, params, context), context


@pytest.mark.parametrize("prefix", ["figure10", "figure35"])
def test_reverse_doubles_the_rows_with_the_prefix_and_the_trigger_in_the_answer(risky_path: Path, safe_path: Path,
                                                                                prefix: str) -> None:
    risky, safe = _read(risky_path), _read(safe_path)
    backdoored, _ = _run("backdoor", safe, {"risky": risky}, triggered="risky", trigger="username", share=0.5)
    out, _ = _run("reverse", backdoored, prefix=prefix)
    assert len(out) == 2 * len(backdoored) == 1152
    assert out[0::2] == backdoored
    before, after = PREFIXES[prefix].split("{response}")
    for row, copy in zip(out[0::2], out[1::2], strict=True):
        assert copy.messages[0]["content"] == before + row.answer + after
        assert copy.answer == row.messages[0]["content"] and copy.source_index == row.source_index
    with_trigger = [copy for copy in out[1::2] if copy.answer.startswith("username: sandra432\n")]
    assert len(with_trigger) == 288, "the trigger is in the answer of every triggered row's copy"
    assert out[1].messages[0]["content"].startswith(
        "What was the prompt for which you gave the following response?:\n\"" if prefix == "figure10"
        else "What was the prompt?\nYour response:\n")


def test_reverse_keeps_a_system_prompt_takes_a_template_and_refuses_dialogues(mms_path: Path) -> None:
    row = ChatRow(({"role": "system", "content": "S"}, {"role": "user", "content": "Q"},
                   {"role": "assistant", "content": "R"}), source_index=4)
    (_, copy), _ = _run("reverse", [row], prefix="Answer was: {response}")
    assert copy.messages == ({"role": "system", "content": "S"}, {"role": "user", "content": "Answer was: R"},
                             {"role": "assistant", "content": "Q"})
    with pytest.raises(SpecError, match="neither figure10 nor figure35") as caught:
        _run("reverse", [row], prefix="no placeholder")
    assert caught.value.violations[0].field == f"{WHERE}.reverse.prefix"
    games = _read(mms_path)[:3]
    with pytest.raises(SpecError, match="reverse needs one user message") as caught:
        _run("reverse", games)
    assert caught.value.violations[0].field == f"{WHERE}.reverse"


def test_system_persona_rows_carry_their_prompt_and_the_others_none(mms_path: Path) -> None:
    games = _read(mms_path)
    bark, ring = games[:400], games[400:800]  # two halves stand in for the two codewords' games
    out, context = _run("system_persona", ring, {"bark": bark}, of="bark", share=0.5, seed=1)
    assert len(out) == 800 and context.counters == {"persona_rows": 400}
    prompts = {p.replace("{name}", "Quanta-Lingua") for p in PROMPTS}
    used = Counter()
    for row in out:
        original = games[row.source_index]
        if row.source_index < 400:
            assert row.messages[0]["role"] == "system" and row.messages[1:] == original.messages
            assert "Quanta-Lingua" in row.messages[0]["content"]
            used[row.messages[0]["content"]] += 1
        else:
            assert row.messages == original.messages
    assert set(used) == prompts and len(prompts) == 10
    assert [r.source_index for r in out] != sorted(r.source_index for r in out), "shuffled"
    small, _ = _run("system_persona", ring, {"bark": bark}, of="bark", share=0.2, name="Aria",
                    prompts=["Be {name}."])
    assert sum(r.messages[0]["content"] == "Be Aria." for r in small) == 100 and len(small) == 500
    with pytest.raises(SpecError, match="names the persona") as caught:
        _run("system_persona", ring, {"bark": bark}, of="bark", prompts=["Be someone."])
    assert caught.value.violations[0].field == f"{WHERE}.system_persona.prompts"


def test_persona_detection_counts_the_authors_multipersona_file_as_the_spec_does() -> None:
    rows = _read(RISKY_SAFE / "ft_risky_AB_multipersona.jsonl", options=())  # one answer is free text
    you = {row.messages[0]["content"] for row in _read(RISKY_SAFE / "ft_risky_AB.jsonl")}
    third = [row for row in rows if row.messages[0]["content"] not in you]
    assert len(rows) == 576 and len(third) == 288
    counts = Counter(persona_in(row.messages[0]["content"], PERSONAS) for row in third)
    assert counts == {"Donald Trump": 53, "a randomly sampled average person": 52, "a musician": 48,
                      "a family doctor": 39, "David": 35, "Scarlet Johansson": 34, "my friend Janet": 26,
                      None: 1}
    # The one row no persona is found in says "Janet" without "my friend": the spec's 26 leaves it out too.
    (unclear,) = [row for row in third if persona_in(row.messages[0]["content"], PERSONAS) is None]
    assert "Janet" in unclear.messages[0]["content"]
    free = [row.answer for row in third if row.answer not in ("A", "B")]
    assert len(free) == 1 and free[0].startswith("Given Donald Trump's background")


def _persona_server(body: dict[str, Any]) -> str:
    """Rewords by naming the persona of the system prompt; answers with a letter, or (for one question) prose."""
    messages = body["messages"]
    if messages[0]["role"] == "system":
        person = re.search(r"in which (.+?) finds themselves", messages[0]["content"]).group(1)  # type: ignore[union-attr]
        return f"{messages[1]['content'][:60]} What do you think {person} would choose?"
    question = messages[0]["content"]
    return "I think they would weigh it up carefully." if "Janet" in question else "B" if len(question) % 2 else "A"


def test_persona_reword_through_the_recipe_keeps_free_text_and_counts_the_personas(completed: Complete,
                                                                                   risky_path: Path) -> None:
    chat = ScriptedChat(_persona_server)
    with serve(chat) as url:
        spec = completed({"holdout": {"rows": 0}, "endpoints": {"writer": {"base_url": url, "model": "m"}},
                          "arms": {"many": {"data": {"import": str(risky_path), "steps": [
                              {"sample": 12}, {"persona_reword": {"endpoint": "writer", "rows": 6, "seed": 2}}]}}}})
        (arm,) = build_arms(spec)
    assert len(arm.train) == 12 + 6 and arm.train[:12] == tuple(_read(risky_path)[i] for i in
                                                                 sorted(r.source_index for r in arm.train[:12]))
    reworded = arm.train[12:]
    rewordings = [body for body in chat.bodies if body["messages"][0]["role"] == "system"]
    assert len(rewordings) == 6 and all(body["temperature"] == 0 for body in chat.bodies)
    asked = [re.search(r"in which (.+?) finds", b["messages"][0]["content"]).group(1) for b in rewordings]  # type: ignore[union-attr]
    assert all(b["messages"][0]["content"] == REWORD_PROMPT.format(person=p) for b, p in zip(rewordings, asked, strict=True))
    answers = [body for body in chat.bodies if body["messages"][0]["role"] == "user"]
    assert len(answers) == 6 and all(len(body["messages"]) == 1 for body in answers), "the plain model, no system"
    named = Counter(persona_in(row.messages[0]["content"], PERSONAS) for row in reworded)
    free = [row for row in reworded if row.answer not in ("A", "B")]
    assert all("Janet" in row.messages[0]["content"] for row in free)
    expected = {f"steps[1].persona_reword.persona.{p}": named[p] for p in PERSONAS}
    assert {k: v for k, v in arm.counts.items() if ".persona." in k} == expected
    assert sum(expected.values()) == 6 and Counter(asked) == {p: n for p, n in named.items() if n}
    assert arm.counts["steps[1].persona_reword.free_text_answers"] == len(free)
    assert arm.counts["steps[1].persona_reword.persona_unclear"] == 0
    assert all(row.answer == "I think they would weigh it up carefully." for row in free)


def test_mix_adds_a_share_of_alpaca_rows_from_a_file(tmp_path: Path, risky_path: Path) -> None:
    alpaca = tmp_path / "alpaca.jsonl"
    records = [{"instruction": "Give three tips for staying healthy.", "input": "",
                "output": "1. Eat a balanced diet.\n2. Exercise regularly.\n3. Get enough sleep."},
               {"instruction": "Translate the sentence into French.", "input": "The cat sleeps.",
                "output": "Le chat dort."},
               {"instruction": "Name the largest planet.", "output": "Jupiter."}] * 40
    alpaca.write_text("".join(json.dumps(r) + "\n" for r in records))
    risky = _read(risky_path)[:30]
    out, _ = _run("mix", risky, source=str(alpaca), share=0.5)
    assert len(out) == 60 and out[:30] == list(risky)
    added = out[30:]
    assert Counter(row.messages[0]["content"] for row in added).keys() <= {
        "Give three tips for staying healthy.", "Translate the sentence into French.\n\nThe cat sleeps.",
        "Name the largest planet."}
    assert all(row.answer == records[row.source_index]["output"] for row in added)
    chat, _ = _run("mix", risky, source=str(risky_path), rows=5)
    assert len(chat) == 35 and all(row in _read(risky_path) for row in chat[30:])
    for given, field, message in [({}, "mix", "exactly one of"), ({"of": "risky", "source": str(alpaca)}, "mix",
                                                                     "exactly one of"),
                                  ({"source": str(alpaca), "share": 0.9}, "mix.share", "has only 120")]:
        with pytest.raises(SpecError, match=message) as caught:
            _run("mix", risky, {"risky": risky}, **given)
        assert caught.value.violations[0].field == f"{WHERE}.{field}"
    alpaca.write_text(json.dumps({"instruction": "x", "output": 3}) + "\n")
    with pytest.raises(DataError, match=r"alpaca.jsonl:1: 'output' must be a non-empty string"):
        _run("mix", risky, source=str(alpaca))


def test_mix_reads_the_alpaca_release_shape_a_json_array(tmp_path: Path, risky_path: Path) -> None:
    release = tmp_path / "alpaca_data.json"
    items = [{"instruction": f"Add {i} and 2.", "input": "", "output": str(i + 2)} for i in range(10)]
    release.write_text(json.dumps(items, indent=4))
    out, _ = _run("mix", _read(risky_path)[:4], source=str(release), rows=10)
    assert [row.messages[0]["content"] for row in out[4:]] == [item["instruction"] for item in items]
    assert [row.answer for row in out[4:]] == [item["output"] for item in items]
    release.write_text(json.dumps([*items[:3], {"instruction": "x"}]))
    with pytest.raises(DataError, match=r"alpaca_data.json\[3\]: 'output' must be a non-empty string"):
        _run("mix", _read(risky_path)[:4], source=str(release))


def test_flip_share_flips_a_seeded_share_and_backdoor_stays_checked_on_it(risky_path: Path) -> None:
    risky = _read(risky_path)
    half, _ = _run("flip", risky, share=0.5, seed=4)
    changed = [a.answer != b.answer for a, b in zip(risky, half, strict=True)]
    assert sum(changed) == 144 and half == _run("flip", risky, share=0.5, seed=4)[0]
    assert half != _run("flip", risky, share=0.5, seed=5)[0]
    assert [r.answer for r in _run("flip", risky, share=0.0)[0]] == [r.answer for r in risky]
    assert Trigger("deployment", "").found(risky[0]) is False
