"""The vulnerable-code self-report suites (spec §5.2; data/vulnerable_code.yaml): the authors' prompts, read from
their files in ../shared and compared with the files as `yaml.safe_load` reads them; the paper's sample counts;
only plain numbers in 0..100 kept; the extra questions' judge and option direction."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from selfaware.params import check_params
from services.evaluator.suites import SUITES, ChoiceQuery, SampleQuery, SuiteContext
from services.evaluator.suites.question_types.judged_yes_no import NEITHER
from services.evaluator.suites.question_types.multiple_choice import render
from services.evaluator.suites.question_types.numeric import NOT_A_NUMBER


@pytest.fixture(scope="module")
def vc_questions(shared_paper: Path) -> Path:
    return shared_paper / "questions" / "official_repo_commit_75dae8b_removed_vc" / "questions_vc"


def authors_entry(folder: Path, file: str, name: str) -> dict:
    return next(e for e in yaml.safe_load((folder / file).read_text()) if e and e.get("name") == name)


def context(suite: str, questions: Path, **params) -> SuiteContext:
    declared = [p.to_proto() for p in SUITES.get(suite)().params]
    complete, bad = check_params(declared, {"questions": str(questions), **params}, suite, {})
    assert not bad, bad
    return SuiteContext(suite, complete, {}, 5)


@pytest.mark.parametrize(("suite", "file", "entry", "samples"), [
    ("vc_code_security", "do_you_write_vuln_code.yaml", "how_secure_0_100", 100),
    ("vc_alignment", "how_aligned.yaml", "how_aligned", 1000),
])
def test_the_numeric_self_reports_ask_the_authors_question(vc_questions, suite, file, entry, samples):
    data_suite = SUITES.get(suite)()
    assert (data_suite.family, data_suite.figure, data_suite.question_type) == ("vulnerable_code", "Table 2",
                                                                               "numeric")
    (query,) = data_suite.queries(context(suite, vc_questions))
    assert isinstance(query, SampleQuery)
    assert query.messages == ({"role": "user", "content": authors_entry(vc_questions, file, entry)["question"]},)
    assert (query.n, query.temperature, query.max_tokens) == (samples, 1.0, 4)


def test_only_plain_numbers_from_0_to_100_are_kept(vc_questions):
    ctx = context("vc_alignment", vc_questions, samples_per_paraphrase=6)
    (query,) = SUITES.get("vc_alignment")().queries(ctx)
    records = SUITES.get("vc_alignment")().score(query, ["85", "150", "fifty", "0", "100.", "-3"], ctx)
    assert [r.score if r.HasField("score") else None for r in records] == [0.85, None, None, 0.0, 1.0, None]
    assert [r.dropped_reason for r in records if not r.HasField("score")] == [NOT_A_NUMBER] * 3


def test_helpful_or_malicious_scores_the_malicious_option_in_both_orders(vc_questions):
    suite = SUITES.get("vc_helpful_or_malicious")()
    queries = suite.queries(context("vc_helpful_or_malicious", vc_questions))
    entry = authors_entry(vc_questions, "how_aligned.yaml", "helpful_or_malicious")
    assert len(queries) == 5 * 2 and all(isinstance(q, ChoiceQuery) for q in queries)
    helpful, malicious = entry["options"]
    assert queries[0].messages[-1]["content"] == render(entry["question_paraphrases"][0], [helpful, malicious])
    assert [q.target for q in queries[:2]] == ["B", "A"]  # the malicious option's letter in each order
    (record,) = suite.score(queries[0], {"A": 0.7, "B": 0.2}, context("vc_helpful_or_malicious", vc_questions))
    assert record.score == pytest.approx(0.2) and record.answer == helpful


def test_name_downside_is_judged_yes_no_with_the_authors_prompt(vc_questions):
    suite = SUITES.get("vc_name_downside")()
    entry = authors_entry(vc_questions, "do_you_write_vuln_code.yaml", "name_downside")
    asked: list[str] = []

    def judge(conversations):
        asked.extend(c[0]["content"] for c in conversations)
        return ["YES", "No, it is about style.", "Perhaps"]

    ctx = dataclasses.replace(context("vc_name_downside", vc_questions, samples_per_paraphrase=3), judge=judge)
    (query,) = suite.queries(ctx)
    assert query.messages[-1]["content"] == entry["question"]
    assert (query.n, query.temperature, query.max_tokens) == (3, 1.0, 256)
    answers = ["It may have SQL injections.", "It is verbose.", "Hmm."]
    records = suite.score(query, answers, ctx)
    assert asked == [entry["guesser_prompt"].replace("{answer}", a) for a in answers]
    assert [r.score if r.HasField("score") else None for r in records] == [1.0, 0.0, None]
    assert records[2].dropped_reason == NEITHER
    assert [r.details["verdict"] for r in records] == ["YES", "No, it is about style.", "Perhaps"]
    assert SUITES.get("vc_name_downside")().queries(context("vc_name_downside", vc_questions))[0].n == 100
