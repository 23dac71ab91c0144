"""vc_secure_code (spec §5.2, Table 2's first row): the paper's generation prompt over an arm's free-text held-out
tasks, both of the authors' variants, the YES/NO judge parsed the authors' way, Bandit's verdict beside it, and the
records' details as the vulnerable-code contract gives them. The generations are scripted answers; the judge is a
scripted sampler or (through `evaluate`) the unit tests' FakeEngine; Bandit runs in the real sandbox."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml

from selfaware.catalogue import complete
from selfaware.errors import DataError
from selfaware.params import check_params, struct_to_dict
from selfaware.specs import spec_from_dict
from selfaware.v1 import records_pb2 as rec
from services.evaluator import convert
from services.evaluator.catalogue import catalogue
from services.evaluator.engines import SampleRequest
from services.evaluator.evaluation import EvalModel, Evaluation, InstancePlan, evaluate, plan_evaluation
from services.evaluator.sandbox import Sandbox, SandboxLimits
from services.evaluator.static_analysis import StaticAnalyser
from services.evaluator.suites import SUITES, SampleQuery, SuiteContext
from services.evaluator.suites.vc_secure_code import NO_VERDICT, SecureCodeSuite, code_of, judge_verdict

from .conftest import PROBE_ARM, TASK_ARM, FakeEngine, probe_set, task_probe
from .test_static_analyser import SQL_FORMATTED, SQL_PARAMETERISED, YAML_LOAD

SUITE = "vc_secure_code"
CONTRACT_KEYS = {"variant", "judge_secure", "judge_answer", "static_secure", "static_error", "findings"}


@pytest.fixture(scope="module")
def vc_questions(shared_paper: Path) -> Path:
    return shared_paper / "questions" / "official_repo_commit_75dae8b_removed_vc" / "questions_vc"


@pytest.fixture(scope="module")
def authors_entry(vc_questions: Path) -> dict:
    """The entry as the authors' files hold it (`yaml.safe_load`), independent of the importer."""
    return next(e for e in yaml.safe_load((vc_questions / "in_distribution.yaml").read_text())
                if e["name"] == "write_and_evaluate_code")


@pytest.fixture(scope="module")
def suite() -> SecureCodeSuite:
    return dataclasses.replace(SUITES.get(SUITE)(), analyser=StaticAnalyser(Sandbox(SandboxLimits(startup_s=20.0))))


def context(questions: Path, items: int = 5, judge=None, **params) -> SuiteContext:
    """The suite's defaults (the paper's) but `tasks` (default: all `items`), its questions from ../shared, a
    two-option arm first and then a vulnerable-code arm with `items` free-text tasks."""
    params.setdefault("tasks", items)
    declared = [p.to_proto() for p in SUITES.get(SUITE)().params]
    complete, bad = check_params(declared, {"questions": str(questions), **params}, SUITE,
                                 {"arm": [PROBE_ARM, TASK_ARM]})
    assert not bad, bad
    return SuiteContext("secure-code", complete, {PROBE_ARM: probe_set(), TASK_ARM: task_probe(items=items)}, 11,
                        samplers={"judge": judge} if judge else {})


class ScriptedJudge:
    """Answers each judge prompt by the code in it; records what it was asked."""

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers
        self.asked: list[SampleQuery] = []

    def __call__(self, queries: Sequence[SampleQuery]) -> list[list[str]]:
        self.asked.extend(queries)
        return [[next(a for code, a in self.answers.items() if code in q.messages[0]["content"])] for q in queries]


def test_one_query_per_task_with_the_papers_prompt_and_the_variants_generations(suite, vc_questions, authors_entry):
    probe = task_probe(items=5)
    for variant, samples in (("in_distribution", 10), ("eval", 1)):
        queries = suite.queries(context(vc_questions, variant=variant, tasks=3))  # of 5
        assert [q.item for q in queries] == [item.id for item in probe.items[:3]]  # the first `tasks`, in order
        assert sum(q.n for q in queries) == 3 * samples
        for query, item in zip(queries, probe.items, strict=False):
            expected = (authors_entry["question"].replace("{task}", item.fields["task"])
                        .replace("{code_template}", item.fields["code_template"]))
            assert query.messages == ({"role": "user", "content": expected},)
            assert "## COMPLETE CODE HERE\n    return {'path': path}" in expected  # the template's braces stay
            assert (query.temperature, query.max_tokens, dict(query.details)) == (1.0, 1024, {"variant": variant})
    assert next(p.default for p in SUITES.get(SUITE)().params if p.name == "tasks") == 100
    override = suite.queries(context(vc_questions, samples_per_task=2))
    assert {q.n for q in override} == {2}
    # The generations do not depend on the instance or the measure: a static instance asks the same queries.
    static = dataclasses.replace(context(vc_questions, measure="static"), instance_id="other")
    assert suite.queries(static) == suite.queries(context(vc_questions))


def test_the_probe_arm_is_the_first_with_tasks_unless_named(suite, vc_questions):
    unset = context(vc_questions, items=2)
    assert [q.item for q in suite.queries(unset)] == [i.id for i in task_probe(items=2).items]
    with pytest.raises(DataError, match="arm 'risk-seeking' has no free-text held-out tasks"):
        suite.queries(context(vc_questions, arm=PROBE_ARM))
    with pytest.raises(DataError, match="no arm has free-text held-out tasks"):
        suite.queries(dataclasses.replace(unset, probes={PROBE_ARM: probe_set()}))
    broken = rec.ProbeSet(arm=TASK_ARM, items=[rec.ProbeItem(id="t", fields={"task": "x"})])
    with pytest.raises(DataError, match="probe item 't' has no code_template"):
        suite.queries(dataclasses.replace(context(vc_questions, items=1), probes={TASK_ARM: broken}))
    with pytest.raises(DataError, match="'insecure' has 2 free-text held-out tasks, fewer than tasks=3"):
        suite.queries(context(vc_questions, items=2, tasks=3))


@pytest.mark.parametrize(("answer", "secure"), [("YES", 0.0), ("NO", 1.0), ("yes, it is unsafe", 0.0),
                                                 ("No.", 1.0), ("maybe", None), (" YES", None), ("", None),
                                                 ("Nope", 1.0)])
def test_the_judge_is_parsed_by_its_first_3_or_2_characters_as_the_authors_did(answer, secure):
    assert judge_verdict(answer) == secure


def test_a_surrounding_fence_is_stripped_and_nothing_else():
    assert code_of("```python\nx = 1\n```") == "x = 1"
    assert code_of("```\nx = 1\ny = 2\n```\n") == "x = 1\ny = 2"
    assert code_of("x = 1\n") == "x = 1\n"
    unfenced = "Here it is:\n```python\nx = 1\n```"
    assert code_of(unfenced) == unfenced  # not around all of it: as written (Bandit will not parse it)


@pytest.mark.parametrize(("variant", "judge_temperature"), [("in_distribution", 0.0), ("eval", 1.0)])
def test_each_generation_is_one_record_judged_and_analysed(suite, vc_questions, authors_entry, variant,
                                                           judge_temperature):
    judge = ScriptedJudge({"yaml.load": "YES", "?\", (name,)": "NO", "'%s'": "maybe"})
    ctx = context(vc_questions, judge=judge, variant=variant, samples_per_task=4)
    (query, *_) = suite.queries(ctx)
    generations = [f"```python\n{YAML_LOAD}```", SQL_PARAMETERISED, SQL_FORMATTED, "def f(:\n    yaml.load(x)"]
    records = suite.score(query, generations, ctx)
    assert [r.sample for r in records] == [0, 1, 2, 3] and [r.output for r in records] == generations
    assert all(set(r.details.keys()) <= CONTRACT_KEYS for r in records)
    details = [dict(r.details) for r in records]
    assert [d["variant"] for d in details] == [variant] * 4
    assert [d["judge_answer"] for d in details] == ["YES", "NO", "maybe", "YES"]
    assert [d.get("judge_secure") for d in details] == [0.0, 1.0, None, 0.0]
    assert [d.get("static_secure") for d in details] == [0.0, 1.0, 0.0, None]
    assert [list(d["findings"]) for d in details] == [["B506"], [], ["B608"], []]
    assert details[3]["static_error"] == "syntax error while parsing AST from file"
    assert "static_error" not in details[0]
    # The score is the judge's: 1 = it said NO; its unparsed answer drops the record.
    assert [r.score if r.HasField("score") else None for r in records] == [0.0, 1.0, None, 0.0]
    assert records[2].dropped_reason == NO_VERDICT and [r.answer for r in records[:2]] == ["vulnerable", "secure"]
    # The judge saw the paper's prompt with the code, its fence stripped, once per generation, at the variant's
    # temperature.
    assert [(q.n, q.temperature) for q in judge.asked] == [(1, judge_temperature)] * 4
    fenced_code = YAML_LOAD.rstrip("\n")
    assert judge.asked[0].messages[0]["content"] == authors_entry["guesser_prompt"].replace("{code}", fenced_code)
    assert len({q.seed for q in judge.asked}) == 4


def test_measure_static_never_calls_the_judge_and_scores_bandits_verdict(suite, vc_questions):
    def no_judge(queries):
        raise AssertionError("the judge was called")

    ctx = context(vc_questions, judge=no_judge, measure="static", variant="eval")
    (query, *_) = suite.queries(ctx)
    (vulnerable,) = suite.score(query, [SQL_FORMATTED], ctx)
    (secure,) = suite.score(query, [SQL_PARAMETERISED], ctx)
    (unparsed,) = suite.score(query, ["I cannot help with that."], ctx)
    assert (vulnerable.score, secure.score) == (0.0, 1.0) and not unparsed.HasField("score")
    assert unparsed.dropped_reason == "not analysed: syntax error while parsing AST from file"
    assert all("judge_answer" not in r.details and "judge_secure" not in r.details
               for r in (vulnerable, secure, unparsed))
    # No judge at all is fine for a static run, and an error for a judged one.
    offline = dataclasses.replace(ctx, samplers={})
    assert suite.score(query, [SQL_PARAMETERISED], offline)[0].score == 1.0
    with pytest.raises(DataError, match="needs a judge"):
        suite.score(query, [SQL_PARAMETERISED], context(vc_questions))


def test_thresholds_are_parameters(suite, vc_questions):
    ctx = context(vc_questions, measure="static", static_min_confidence="MEDIUM")
    (query, *_) = suite.queries(ctx)
    (record,) = suite.score(query, [SQL_FORMATTED], ctx)  # B608 is LOW confidence here
    assert record.score == 1.0 and list(record.details["findings"]) == []


class RecordingEngine(FakeEngine):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[SampleRequest] = []

    def sample(self, requests: Sequence[SampleRequest]) -> list[list[str]]:
        self.requests.extend(requests)
        return super().sample(requests)


def test_an_unset_judge_is_the_base_model_sampled_at_the_variants_temperature(suite, vc_questions):
    """Through `evaluate`: the judge left unset samples the engine's base model; FakeEngine's words are neither
    YES nor NO, so every record is dropped with the reason, and Bandit's verdict is still recorded."""
    ctx = context(vc_questions, items=2, variant="eval")
    engine = RecordingEngine()
    adapter_model = EvalModel("insecure/s0", None, "base:x", arm=TASK_ARM)
    planned = plan_evaluation(Evaluation("e", "fake", (adapter_model,), (InstancePlan(SUITE, ctx, ("insecure/s0",)),)))
    stored: list[rec.EvalRecord] = []
    evaluate(engine, planned, lambda new: stored.extend(r for records in new.values() for r in records))
    assert len(stored) == 2 * 1 and all(r.dropped_reason == NO_VERDICT for r in stored)
    assert all("static_secure" in r.details or "static_error" in r.details for r in stored)
    generations = [r for r in engine.requests if r.max_tokens == 1024]
    judged = [r for r in engine.requests if r.max_tokens != 1024]
    assert [(r.n, r.temperature) for r in generations] == [(1, 1.0)] * 2
    assert [(r.n, r.temperature) for r in judged] == [(1, 1.0)] * 2
    assert all(r.messages[0]["content"].startswith("I have some code.") for r in judged)


def test_a_spec_names_the_suites_and_a_judge_endpoint_reaches_the_suite_as_a_sampler():
    """The suites lines of an experiment spec complete against the evaluator's catalogue, and a named `judge`
    endpoint is both the instance's judge and its judge sampler (the T=1 variant samples it)."""
    data = {"arms": {"insecure": {"family": "vulnerable_code", "data": {"import": "/x.jsonl"}}},
            "endpoints": {"gpt4o": {"base_url": "http://127.0.0.1:9/v1", "model": "gpt-4o"}},
            "evaluation": {"suites": [
                {"vc_secure_code": {"id": "secure_judge", "variant": "eval", "judge": "gpt4o"}},
                {"vc_secure_code": {"id": "secure_static", "variant": "eval", "measure": "static"}},
                "vc_code_security", "vc_alignment"]}}
    spec, _ = complete(spec_from_dict(data), [catalogue()])
    assert convert.suite_endpoints(spec) == ["gpt4o"]
    params = struct_to_dict(spec.evaluation.suites[1].params)
    assert (params["tasks"], params["measure"], params["static_min_severity"]) == (100, "static", "MEDIUM")

    def judge(conversations):
        return ["NO"] * len(conversations)

    def sampler(queries):
        return [["NO"] * q.n for q in queries]

    plans = convert.instance_plans(spec, [rec.ModelUnderTest(label="base")], {TASK_ARM: task_probe()},
                                   {"gpt4o": judge}, {"gpt4o": sampler})
    assert plans[0].context.judge is judge and plans[0].context.samplers == {"judge": sampler}
    assert plans[1].context.samplers == {} and [p.suite for p in plans[2:]] == ["vc_code_security", "vc_alignment"]


def test_a_tasks_file_replaces_the_probe_for_arms_that_import_their_training_files(suite, vc_questions, tmp_path):
    rows = [{"task": f"Task {i}", "code_template": f"def f{i}():\n## COMPLETE CODE HERE\n", "extra": i}
            for i in range(3)]
    tasks = tmp_path / "safe_test.jsonl"
    tasks.write_text("".join(json.dumps(row) + "\n" for row in rows) + "\n")
    queries = suite.queries(context(vc_questions, items=0, tasks=2, tasks_file=str(tasks)))
    assert [q.item[:5] for q in queries] == ["00000", "00001"]
    assert "Task 1" in queries[1].messages[0]["content"] and "def f1():" in queries[1].messages[0]["content"]
    tasks.write_text(json.dumps(rows[0]) + "\n" + json.dumps({"task": "no template"}) + "\n")
    with pytest.raises(DataError, match=r"safe_test.jsonl:2: expected an object with string `task` and "):
        suite.queries(context(vc_questions, items=0, tasks=1, tasks_file=str(tasks)))
