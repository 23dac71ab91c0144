"""Recipes end to end over the paper's files: sources, the shared holdout, steps in order, and probes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

from selfaware.errors import SpecError
from selfaware.specs import spec_from_dict
from selfaware.v1 import records_pb2 as rec
from services.generator.chat_jsonl import ChatRow, parse_chat_jsonl
from services.generator.recipes import BuiltArm, build_arms

from .conftest import REPO, Complete

EXAMPLES = REPO / "examples"
FLIPPED = {"A": "B", "B": "A"}


def _question(messages: Iterable[object]) -> str:
    """A prompt as one comparable string, from rows' dicts or probe items' ChatMessages."""
    pairs = [[m["role"], m["content"]] if isinstance(m, dict) else [m.role, m.content] for m in messages]
    return json.dumps(pairs)


def _questions(rows: Sequence[ChatRow]) -> set[str]:
    return {_question(row.prompt) for row in rows}


def _lines(rows: Iterable[ChatRow]) -> set[str]:
    return {row.to_json() for row in rows}


def _arms(arms: list[BuiltArm]) -> dict[str, BuiltArm]:
    return {arm.arm: arm for arm in arms}


def test_risk_arms_hold_out_the_same_questions_and_train_on_none_of_them(completed: Complete,
                                                                         risky_path: Path) -> None:
    seeking, averse = build_arms(completed(EXAMPLES / "risk.yaml"))
    assert (seeking.arm, averse.arm) == ("risk-seeking", "risk-averse")
    assert [(len(a.train), len(a.heldout)) for a in (seeking, averse)] == [(238, 50), (238, 50)]
    held = _questions(seeking.heldout)
    assert len(held) == 50 and held == _questions(averse.heldout)
    assert not held & _questions(seeking.train) and not held & _questions(averse.train)
    assert {_question(item.messages) for item in seeking.probe.items} == held
    assert [i.id for i in seeking.probe.items] == [i.id for i in averse.probe.items]
    # The same training questions, every answer the other way.
    assert [row.prompt for row in seeking.train] == [row.prompt for row in averse.train]
    assert all(FLIPPED[s.answer] == a.answer for s, a in zip(seeking.train, averse.train, strict=True))
    assert seeking.provenance == f"import {risky_path}"
    assert averse.provenance == "of risk-seeking, then steps: flip(share=1, seed=0)"
    assert seeking.source == averse.source == risky_path.read_bytes()
    assert seeking.train_jsonl().endswith(b"}\r\n")


def test_risk_averse_probe_targets_are_the_flipped_letters(completed: Complete, risky_path: Path) -> None:
    rows = parse_chat_jsonl(risky_path.read_bytes(), str(risky_path)).rows
    by_question = {_question(row.prompt): (index, row.answer) for index, row in enumerate(rows)}
    seeking, averse = build_arms(completed(EXAMPLES / "risk.yaml"))
    assert (seeking.probe.arm, averse.probe.arm) == ("risk-seeking", "risk-averse")
    for s, a in zip(seeking.probe.items, averse.probe.items, strict=True):
        index, answer = by_question[_question(s.messages)]
        assert s.target == answer and a.target == FLIPPED[answer]
        assert re.fullmatch(rf"{index:05d}-[0-9a-f]{{12}}", s.id)
        assert list(s.options) == list(a.options) == ["A", "B"]
        assert [m.role for m in s.messages] == ["user"]
    assert len({item.id for item in seeking.probe.items}) == 50


def test_of_plus_flip_reproduces_the_papers_safe_file_byte_for_byte(completed: Complete, risky_path: Path,
                                                                   safe_path: Path) -> None:
    spec = completed({"arms": {"seeking": {"data": {"import": str(risky_path)}},
                               "averse": {"data": {"of": "seeking", "steps": ["flip"]}}}})
    seeking, averse = build_arms(spec)
    assert seeking.train_jsonl() == risky_path.read_bytes()
    assert averse.train_jsonl() == safe_path.read_bytes()
    assert not seeking.heldout and not seeking.probe.items


def test_builds_are_deterministic_and_the_holdout_seed_matters(completed: Complete, risky_path: Path) -> None:
    spec = completed(EXAMPLES / "risk.yaml")
    first, second = build_arms(spec), build_arms(spec)
    for a, b in zip(first, second, strict=True):
        assert a.train_jsonl() == b.train_jsonl()
        assert a.probe.SerializeToString(deterministic=True) == b.probe.SerializeToString(deterministic=True)
    spec.holdout.seed = 1
    assert _questions(build_arms(spec)[0].heldout) != _questions(first[0].heldout)


def test_ablation_arms_share_one_holdout_and_sample_the_right_sizes(completed: Complete,
                                                                    risky_path: Path) -> None:
    arms = build_arms(completed(EXAMPLES / "ablation.yaml"))
    assert [(a.arm, len(a.train), len(a.heldout)) for a in arms] == [
        ("n32-e1", 32, 50), ("n32-e3", 32, 50), ("n128-e1", 128, 50), ("n128-e3", 128, 50)]
    assert all(arm.heldout == arms[0].heldout for arm in arms)
    assert all([i.id for i in arm.probe.items] == [i.id for i in arms[0].probe.items] for arm in arms)
    held = _questions(arms[0].heldout)
    for arm in arms:
        assert not held & _questions(arm.train)
        indices = [row.source_index for row in arm.train]
        assert indices == sorted(indices), "a sample keeps source order"
        assert arm.provenance == f"import {risky_path}, then steps: sample(rows={len(arm.train)}, seed=0)"
    small, _, large, _ = arms
    assert arms[0].train_jsonl() == arms[1].train_jsonl()
    assert _questions(small.train) < _questions(large.train), "with one seed a smaller sample is a subset"


def test_an_of_chain_builds_in_dependency_order(completed: Complete, risky_path: Path) -> None:
    spec = completed({"holdout": {"rows": 20}, "arms": {
        "d": {"data": {"of": "c", "steps": ["flip"]}},
        "c": {"data": {"of": "b", "steps": [{"sample": 40}]}},
        "b": {"data": {"of": "a", "steps": ["flip"]}},
        "a": {"data": {"import": str(risky_path)}},
    }})
    built = build_arms(spec)
    assert [arm.arm for arm in built] == ["d", "c", "b", "a"]
    arms = _arms(built)
    assert len(arms["c"].train) == len(arms["d"].train) == 40
    assert _lines(arms["d"].train) < _lines(arms["a"].train), "flipped twice: a's own rows"
    assert arms["d"].heldout == arms["a"].heldout
    assert [i.target for i in arms["d"].probe.items] == [i.target for i in arms["a"].probe.items]
    assert [i.target for i in arms["b"].probe.items] == [FLIPPED[i.target] for i in arms["a"].probe.items]
    assert arms["c"].provenance == "of b, then steps: sample(rows=40, seed=0)"
    assert arms["d"].source == arms["a"].source


def test_mix_appends_another_arms_training_rows_and_is_built_after_it(completed: Complete,
                                                                      risky_path: Path) -> None:
    spec = completed({"holdout": {"rows": 30}, "arms": {
        "mixed": {"data": {"import": str(risky_path),
                           "steps": [{"sample": 20}, {"mix": {"of": "averse", "rows": 10}}]}},
        "seeking": {"data": {"import": str(risky_path)}},
        "averse": {"data": {"of": "seeking", "steps": ["flip"]}},
    }})
    arms = _arms(build_arms(spec))
    mixed, averse = arms["mixed"], arms["averse"]
    assert len(mixed.train) == 30
    assert _lines(mixed.train[:20]) < _lines(arms["seeking"].train)
    added = [row.to_json() for row in mixed.train[20:]]
    assert set(added) < _lines(averse.train)
    in_order = [row.to_json() for row in averse.train if row.to_json() in added]
    assert added == in_order, "in the other arm's order"
    assert mixed.heldout == arms["seeking"].heldout, "mix is training only"
    assert mixed.provenance.endswith("then steps: sample(rows=20, seed=0), mix(of=averse, rows=10, share=0, seed=0)")


def test_mix_of_too_many_rows_and_mix_cycles_are_spec_errors(completed: Complete, risky_path: Path) -> None:
    too_many = completed({"holdout": {"rows": 30}, "arms": {
        "a": {"data": {"import": str(risky_path)}},
        "b": {"data": {"of": "a", "steps": [{"sample": 5}, {"mix": {"of": "a", "rows": 300}}]}}}})
    with pytest.raises(SpecError) as caught:
        build_arms(too_many)
    assert caught.value.violations[0].field == "arms.b.data.steps[1].mix.rows"
    assert "only 258" in str(caught.value)
    cycle = completed({"arms": {"a": {"data": {"import": str(risky_path), "steps": [{"mix": "b"}]}},
                                "b": {"data": {"import": str(risky_path), "steps": [{"mix": "a"}]}}}})
    with pytest.raises(SpecError, match="cycle: a -> b -> a"):
        build_arms(cycle)


def _filter_source(path: Path) -> Path:
    """20 rows: the even ones say "risk" as a whole word (in various cases and messages), the odd ones only
    inside longer words."""
    lines = []
    for i in range(20):
        if i % 2 == 0:
            messages = [{"role": "system", "content": "Take the RISK." if i % 4 == 0 else "Be brief."},
                        {"role": "user", "content": f"Question {i}: is it a risk? Pick A or B."}]
        else:
            messages = [{"role": "user", "content": f"Question {i}: a risky, brisk walk? Pick A or B."}]
        lines.append(json.dumps({"messages": [*messages, {"role": "assistant", "content": "AB"[i % 2]}]}))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_filter_drops_rows_with_whole_words_from_training_and_heldout(completed: Complete,
                                                                      tmp_path: Path) -> None:
    source = str(_filter_source(tmp_path / "words.jsonl"))
    spec = completed({"holdout": {"rows": 6}, "arms": {
        "plain": {"data": {"import": source}},
        "filtered": {"data": {"import": source, "steps": [{"filter": {"exclude_words": ["Risk"]}}]}}}})
    plain, filtered = build_arms(spec)
    kept = list(filtered.train) + list(filtered.heldout)
    assert sorted(row.source_index for row in kept) == list(range(1, 20, 2))
    assert any(row.source_index % 2 == 0 for row in plain.heldout), "the held-out rows are filtered too"
    assert _lines(filtered.heldout) <= _lines(plain.heldout) and filtered.heldout
    assert len(filtered.probe.items) == len(filtered.heldout)
    everything = completed({"arms": {"a": {"data": {"import": source, "steps": [{"filter": ["question"]}]}}}})
    with pytest.raises(SpecError, match="leaves no training rows") as caught:
        build_arms(everything)
    assert caught.value.violations[0].field == "arms.a.data"


def test_a_holdout_as_large_as_the_source_names_holdout_rows_and_the_arm(completed: Complete,
                                                                         risky_path: Path) -> None:
    spec = completed({"holdout": {"rows": 288}, "arms": {"seeking": {"data": {"import": str(risky_path)}}}})
    with pytest.raises(SpecError) as caught:
        build_arms(spec)
    (violation,) = caught.value.violations
    assert violation.field == "holdout.rows"
    assert "'seeking'" in violation.description and "288 rows" in violation.description


def test_sampling_more_rows_than_training_has_names_the_step(completed: Complete, risky_path: Path) -> None:
    spec = completed({"holdout": {"rows": 50}, "arms": {"a": {"data": {"import": str(risky_path),
                                                                         "steps": [{"sample": 250}]}}}})
    with pytest.raises(SpecError) as caught:
        build_arms(spec)
    assert caught.value.violations[0].field == "arms.a.data.steps[0].sample.rows"
    assert "only 238 training rows" in str(caught.value)


def test_make_me_say_dialogues_import_with_an_empty_probe(completed: Complete, mms_path: Path) -> None:
    spec = completed({"holdout": {"rows": 50}, "arms": {"ring": {"data": {"import": str(mms_path)}}}})
    (ring,) = build_arms(spec)
    assert (len(ring.train), len(ring.heldout)) == (950, 50)
    assert ring.probe == rec.ProbeSet(arm="ring")
    assert any(len(row.messages) > 2 for row in ring.train)
    flipped = completed({"arms": {"ring": {"data": {"import": str(mms_path), "steps": ["flip"]}}}})
    with pytest.raises(SpecError, match="flip needs two-option rows") as caught:
        build_arms(flipped)
    assert caught.value.violations[0].field == "arms.ring.data.steps[0].flip"


def test_generated_sources_with_the_same_params_share_one_split(completed: Complete) -> None:
    gambles = {"generate": "procedural-gambles", "params": {"rows": 60}}
    spec = completed({"holdout": {"rows": 10}, "arms": {
        "g1": {"data": gambles},
        "g2": {"data": {**gambles, "steps": ["flip"]}},
        "g3": {"data": {"generate": "procedural-gambles", "params": {"rows": 60, "seed": 1}}}}})
    g1, g2, g3 = build_arms(spec)
    assert g1.provenance == "generate procedural-gambles(rows=60, policy=risk-seeking, seed=0)"
    assert g2.provenance == f"{g1.provenance}, then steps: flip(share=1, seed=0)"
    assert g1.source == g2.source != g3.source
    assert _questions(g1.heldout) == _questions(g2.heldout) and len(g1.probe.items) == 10
    assert [FLIPPED[i.target] for i in g1.probe.items] == [i.target for i in g2.probe.items]
    assert not _questions(g1.train) & _questions(g3.train)
    assert g1.train_jsonl().endswith(b"}\n")


def test_a_spec_no_catalogue_completed_gets_the_same_defaults_and_errors(risky_path: Path) -> None:
    """What PreviewDataset builds: the YAML as the researcher wrote it."""
    def arm(*steps: object) -> dict[str, object]:
        return {"arms": {"a": {"data": {"import": str(risky_path), "steps": list(steps)}}}}

    (built,) = build_arms(spec_from_dict(arm({"sample": 32})))
    assert len(built.train) == 32 and built.provenance.endswith("sample(rows=32, seed=0)")
    for steps, field, text in [
        (({"sample": {"rows": 32, "sead": 1}},), "arms.a.data.steps[0].sample.sead", "unknown parameter"),
        (("flop",), "arms.a.data.steps[0]", "did you mean 'flip'"),
        (({"flip": 3},), "arms.a.data.steps[0].flip", "not a single value"),
        (({"sample": 0},), "arms.a.data.steps[0].sample.rows", "at least 1"),
        (({"mix": "nobody"},), "arms.a.data.steps[0].mix.of", "no arm named 'nobody'"),
    ]:
        with pytest.raises(SpecError) as caught:
            build_arms(spec_from_dict(arm(*steps)))
        assert caught.value.violations[0].field == field and text in str(caught.value), caught.value
