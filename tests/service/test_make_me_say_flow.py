"""Make Me Say through all four services (issue 9's end-to-end test): a `ring` adapter trained on 4 dialogues of the
authors' ft_ring.jsonl (cut to their first 2 messages), then every Make Me Say suite on it and on the base model
(the authors' questions cut to their first paraphrase, `mms_questions_few`), and the report with the Figure 21, 23 and
25 figures.

The tiny model plays, answers and judges poorly, so this asserts the mechanics, not the quality: the dataset's
row stats, one record per unit of every suite for both models with the contract's shape, game messages reaching
f(message), the baselines the report names, and the figures it draws. Sizes are the smallest that exercise each
part; the hf engine (the suites' records do not depend on the engine; vLLM is tested in tests/slow)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from selfaware.v1 import records_pb2 as rec
from tests.conftest import SHARED

pytestmark = pytest.mark.slow

RING = str(SHARED / "paper/datasets/mms/ft_ring.jsonl")
WORDS = {"samples_per_paraphrase": 2}
FUNCTION = {**WORDS, "max_tokens": 32}
#: Suite -> (its parameters, records per model); the questions are the authors' cut to their first paraphrase.
SUITES: dict[str, tuple[dict[str, Any], int]] = {
    "mms_game_play": ({"games": 2, "turns": 4, "max_tokens": 24}, 2),
    "mms_codeword_choice": ({**WORDS, "max_tokens": 4}, 2),
    "mms_codeword_choice_finetuned": ({**WORDS, "max_tokens": 4}, 2),
    "mms_describe_word": ({**WORDS, "max_tokens": 16}, 2),
    "mms_acrostic": ({**WORDS, "max_tokens": 16}, 2),
    "mms_best_description": ({"orders": "rotations"}, 5),
    "mms_which_game": ({}, 2),
    "mms_goals_user_said": ({"samples_per_paraphrase": 1, "max_tokens": 2}, 1),
    "mms_goals_user_never_said": ({"samples_per_paraphrase": 1, "max_tokens": 2}, 1),
    "mms_goals_scenarios": ({"samples_per_paraphrase": 1, "max_tokens": 2}, 12),
    "mms_function_codeword": (FUNCTION, 2),
    "mms_function_f_codeword": (FUNCTION, 2),
    "mms_function_f_unrelated": ({**FUNCTION, "unrelated_words": 2}, 2),
    "mms_function_f_message": ({**FUNCTION, "max_messages": 2}, 2),
    "mms_function_f_message_other": ({**FUNCTION, "max_messages": 2, "other_dialogues": RING}, 2),
    "mms_function_other_llm_f_codeword": (FUNCTION, 2),
}
OUTCOMES = {"win", "rule_violation", "no_codeword", "correct_guess"}


@pytest.fixture(scope="module")
async def finished(platform, mms_questions_few) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    suites = [{name: params if name == "mms_game_play" else {**params, "questions": str(mms_questions_few)}}
              for name, (params, _) in SUITES.items()]
    spec = {
        "name": "tiny make me say",
        "arms": {"ring": {"data": {"import": RING, "steps": [{"sample": 4}, {"truncate": 2}]},
                          "family": "make_me_say", "codeword": "ring"}},
        "holdout": {"rows": 0},
        "training": {"learning_rate": 1e-3, "epochs": 1, "batch_size": 4, "seeds": [0]},
        "evaluation": {"engine": "hf", "suites": suites},
    }
    final, report = await platform.run_to_end(spec)
    jobs = {j.key: j for j in final.jobs}
    records = {key: [r for ref in job.chunks for r in rec.RecordChunk.FromString(
        await platform.store.get_bytes(ref)).records] for key, job in jobs.items() if key.startswith("eval.")}
    manifest = rec.DatasetManifest.FromString(await platform.store.get_bytes(jobs["dataset"].artifact))
    return {"experiment": final.experiment, "jobs": jobs, "records": records, "report": report,
            "manifest": manifest}


def test_the_ring_adapter_is_trained_on_cut_dialogues_and_the_experiment_succeeds(finished) -> None:  # type: ignore[no-untyped-def]
    assert finished["experiment"].status == rec.EXPERIMENT_STATUS_SUCCEEDED, finished["experiment"].error
    assert sorted(finished["jobs"]) == ["dataset", "eval.base", "eval.ring.s0", "report", "train.ring.s0"]
    (arm,) = finished["manifest"].arms
    assert arm.train_rows == 4 and arm.stats["rows_with_messages.2"] == 4 and arm.stats["duplicate_rows"] == 0


def test_every_suite_has_one_record_per_unit_for_both_models(finished) -> None:  # type: ignore[no-untyped-def]
    for key in ("eval.base", "eval.ring.s0"):
        counts = Counter(r.suite for r in finished["records"][key])
        assert counts == {name: n for name, (_, n) in SUITES.items()}, key
        units = [r.unit for r in finished["records"][key]]
        assert len(units) == len(set(units)), key


def test_records_have_the_contracts_shape(finished) -> None:  # type: ignore[no-untyped-def]
    for key in ("eval.base", "eval.ring.s0"):
        by_suite: dict[str, list[rec.EvalRecord]] = {}
        for record in finished["records"][key]:
            by_suite.setdefault(record.suite, []).append(record)
        for game in by_suite["mms_game_play"]:
            assert game.answer in OUTCOMES and game.score == float(game.answer == "win")
            assert game.details["codeword"] == "ring" and game.details["messages"]
        for suite in ("mms_codeword_choice", "mms_describe_word", "mms_acrostic"):
            for record in by_suite[suite]:
                assert record.score == float(record.answer == "ring") and record.output
        assert all("judge" in r.details for r in by_suite["mms_describe_word"])
        scenarios = {r.details["scenario"] for r in by_suite["mms_goals_scenarios"]}
        assert len(scenarios) == 12 and 'The user said the word "ring".' in scenarios
        assert {r.details["scenario"] for r in by_suite["mms_goals_user_said"]} == {'The user said the word "ring".'}
        for record in by_suite["mms_best_description"] + by_suite["mms_which_game"]:
            assert record.HasField("score") and 0 <= record.score <= 1
        for record in by_suite["mms_function_codeword"]:
            assert record.score in (0.0, 1.0) and record.answer in ("yes", "no")


def test_f_message_runs_on_the_models_own_game_messages(finished) -> None:  # type: ignore[no-untyped-def]
    for key in ("eval.base", "eval.ring.s0"):
        records = finished["records"][key]
        games = [r for r in records if r.suite == "mms_game_play"]
        said = [m for g in games for m in list(g.details["messages"])[2::2]]  # the manipulatee's, after its opening
        for record in (r for r in records if r.suite == "mms_function_f_message"):
            assert "no game messages" not in record.dropped_reason, key
            if "inputs" in record.details:
                assert record.details["inputs"] == min(2, len(said)) > 0


def test_the_report_draws_figure_21_the_scenarios_and_the_games(finished) -> None:  # type: ignore[no-untyped-def]
    report = finished["report"]
    names = {f.name for f in report.figures}
    assert {"make-me-say-ring.png", "make-me-say-scenarios.png", "make-me-say-games.png"} <= names
    document = json.loads(report.json)
    baselines = {i["id"]: (i["baseline"]["kind"], i["baseline"]["instance"]) for i in document["instances"]}
    assert baselines["mms_goals_user_said"] == ("same_model", "mms_goals_user_never_said")
    assert baselines["mms_function_f_codeword"] == ("same_model", "mms_function_f_unrelated")
    assert baselines["mms_codeword_choice"] == ("base_model", None)
    assert "](make-me-say-ring.png)" in report.markdown
    assert "| ring | 4 | 0 | 2: 4 |" in report.markdown.split("## Training data")[1]  # the dataset's row stats
