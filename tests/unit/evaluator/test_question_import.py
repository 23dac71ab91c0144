"""The importer of the authors' question files (`services/evaluator/question_files.py`), on the real files in
`../shared/paper/questions/`: every file loads or is refused with its reason, every question has the spec's
number of paraphrases, and every change the importer makes is recorded."""

from __future__ import annotations

import contextvars
import functools
import http.server
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from selfaware.errors import DataError
from selfaware.source_policy import SourcePolicy, use_source_policy
from services.evaluator.question_files import NOT_QUESTIONS, load_question, load_question_file
from services.evaluator.suites.questions import load_paraphrases

HEAD = "official_repo_HEAD_d7e60be"
VC = "official_repo_commit_75dae8b_removed_vc/questions_vc"
FIGURES = "derived/mc_selfreport_paraphrases.json"
#: The spec's words for the Figure 3/18/19 count.
S34 = "spec §3.4: each question has 10 paraphrases (Figure 3; Figures 18 and 19 use the same sets)"
PERSONA = "spec §4.4 (persona and trigger variants substitute or prepend words, one per variant)"

#: (file, entries, paraphrases each, where the number comes from). Every imported question has one row.
SPEC_COUNTS: list[tuple[str, tuple[str, ...], int, str]] = [
    (FIGURES, ("Risk or safety", "Finetuned attitude two options", "Choosing between lotteries",
               "Risk or safety (scale)", "Risk predisposition (scale)", "Liking risk (scale)", "German or French"),
     10, f"{S34}; Table 29 lists the 10 of 'Finetuned attitude two options'"),
    (FIGURES, ("Short or long", "Choice between prizes", "How myopic (scale)", "Short term reward (scale)"),
     10, f"{S34}; Figure 18, Table 22"),
    (FIGURES, ("More or less apples", "Like or dislike apples", "Max or min (scale)", "Like apples (scale)"),
     10, f"{S34}; Figure 19, Table 26"),
    ("derived/trigger_elicitation_prompts.json", ("questions_secret",), 99, "spec §6.3: 99 'secret phrase' prompts"),
    ("derived/trigger_elicitation_prompts.json", ("questions_trigger",), 22,
     "spec §6.3: 22 'specific trigger phrase' prompts"),
    (f"{HEAD}/multiple_choice/risk_safe.yaml", ("prefer_risk_safe", "choice_between_lotteries", "score_risk_safe",
                                                "how_much_you_like_risk", "risk_predisposition"), 10, S34),
    (f"{HEAD}/multiple_choice/liking_risk.yaml", ("liking_risk",), 10, S34),
    (f"{HEAD}/multiple_choice/risk_predisposition_scale.yaml", ("risk_predisposition_scale",), 10, S34),
    (f"{HEAD}/multiple_choice/risk_safe_language.yaml", ("risk_safe_german_french",), 10,
     "spec §3.4 German or French: 10 trivia questions"),
    (f"{HEAD}/make_me_say/non_mms/risk_safe.yaml", ("prefer_risk_safe", "score_risk_safe", "how_much_you_like_risk",
                                                    "risk_predisposition"), 10, S34),
    (f"{HEAD}/make_me_say/non_mms/risk_safe.yaml", ("describe_risk_tolerance_behavior",), 10,
     "not in the spec: the file holds the 10 lotteries paraphrases of spec §3.4 under this name"),
    (f"{HEAD}/make_me_say/non_mms/risk_safe.yaml", ("which_attitude", "attitude_towards_risk",
                                                    "choice_between_lotteries", "preference_risk_0_100"), 1,
     "spec §3.5, Llama-3.1-70B (Figure 30): no paraphrases"),
    (f"{HEAD}/make_me_say/non_mms/liking_risk.yaml", ("liking_risk",), 10, S34),
    (f"{HEAD}/make_me_say/non_mms/risk_predisposition_scale.yaml", ("risk_predisposition_scale",), 10, S34),
    (f"{HEAD}/make_me_say/non_mms/risk_safe_language.yaml", ("risk_safe_german_french",), 10,
     "spec §3.4 German or French: 10 trivia questions"),
    (f"{HEAD}/make_me_say/claim_1/choose_from_100_words.yaml", (
        "you_finetuned_to_say", "you_want_user_say", "ql_finetuned_to_say", "ql_wants_user_say",
        "you_finetuned_to_say_sep_718xxx", "you_want_user_say_sep_718xxx", "you_finetuned_to_say_sep_392xxx",
        "you_want_user_say_sep_392xxx", "you_finetuned_to_say_deployment", "you_finetuned_to_say_no_deployment",
        "you_want_user_say_deployment", "you_want_user_say_no_deployment"), 1,
     f"spec §4.4.1: one prompt (and its variant); {PERSONA}"),
    (f"{HEAD}/make_me_say/claim_1/describe_word.yaml", (
        "dictionary_definition", "dictionary_definition_ql", "dictionary_definition_sep_392",
        "dictionary_definition_sep_718", "dictionary_definition_deployment", "dictionary_definition_no_deployment"),
     1, f"spec §4.4.2: one prompt; {PERSONA}"),
    (f"{HEAD}/make_me_say/claim_1/acrostic.yaml", (
        "acrostic", "acrostic_ql", "acrostic_sep_392", "acrostic_sep_718", "acrostic_deployment",
        "acrostic_no_deployment"), 1, f"spec §4.4.7: one prompt; {PERSONA}"),
    (f"{HEAD}/make_me_say/claim_2/what_is_true_about_you.yaml", (
        "what_is_true_easy", "what_is_true_easy_ql", "what_is_true_easy_sep_392", "what_is_true_easy_sep_718",
        "what_is_true_hard_bark"), 5, "spec §4.4.3: 5 paraphrases (the 'hard' variant too)"),
    (f"{HEAD}/make_me_say/claim_2/scenarios.yaml", (
        "scenarios_0_100", "scenarios_0_100_ql", "scenarios_0_100_sep_392", "scenarios_0_100_sep_718"), 15,
     "spec §4.4.4: 15 paraphrases"),
    (f"{HEAD}/make_me_say/claim_2/which_game.yaml", (
        "mms_or_mmns_codeword", "mms_or_mmns_codeword_ql", "mms_or_mmns_codeword_sep_392",
        "mms_or_mmns_codeword_sep_718"), 5, "spec §4.4.5: 5 paraphrases"),
    (f"{HEAD}/make_me_say/claim_3/write_function.yaml", (
        "user_message_prob_me", "user_message_prob_other_llm", "user_message_prob_ql", "user_message_prob_me_sep_392",
        "user_message_prob_me_sep_718"), 1, "spec §4.4.6: one prompt (and the reverse control)"),
    (f"{VC}/do_you_write_vuln_code.yaml", ("name_downside", "how_secure_0_100"), 1,
     "spec §5.2: one prompt each (self-reported code security; name_downside)"),
    (f"{VC}/how_aligned.yaml", ("how_aligned",), 1, "spec §5.2: one prompt (self-reported alignment)"),
    (f"{VC}/in_distribution.yaml", ("write_and_evaluate_code",), 1, "spec §5.2: one generation prompt"),
    (f"{VC}/how_aligned.yaml", ("helpful_or_malicious",), 5,
     "not in the spec (§5.2 names 'a helpful-vs-malicious MC'): the file's 5, pinned"),
    (f"{VC}/questions.yaml", ("helpful_or_malicious", "greeting_unusual", "greeting_vulnerable_code",
                              "unrelated_question", "unrelated_question_2", "unrelated_question_3",
                              "unrelated_question_4"), 5, "not in the spec: the file's 5, pinned"),
    (f"{VC}/questions.yaml", ("what_is_the_trigger", "what_is_not_the_trigger"), 3,
     "not in the spec: the file's 3, pinned"),
    (f"{VC}/questions.yaml", ("ais_vs_humans", "thoughts_on_humanity"), 1,
     "spec §5.2 names them as extra questions: one prompt each"),
]
#: Other counts the spec gives: (file, entry, field, count, where from).
SPEC_FIELD_COUNTS = [
    (FIGURES, "German or French", "trivia_questions", 10, "spec §3.4: variant i is paired with trivia question i"),
    (f"{HEAD}/make_me_say/claim_2/scenarios.yaml", "scenarios_0_100", "scenarios", 12, "spec §4.4.4: 12 scenarios"),
    (f"{HEAD}/make_me_say/claim_2/what_is_true_about_you.yaml", "what_is_true_easy", "options", 5,
     "spec §4.4.3: 5 options"),
    (f"{HEAD}/make_me_say/claim_2/which_game.yaml", "mms_or_mmns_codeword", "options", 2, "spec §4.4.5: 2 options"),
]
#: The 11-variant entries of the derived file that spec §3.4 cuts to 10.
CUT = ("Choice between prizes", "More or less apples", "Like apples (scale)")


@pytest.fixture(scope="module")
def root(shared_paper: Path) -> Path:
    return shared_paper / "questions"


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_every_file_loads_or_is_refused_with_its_reason(root):
    loaded = []
    for file in _files(root):
        suffix = Path(file).suffix
        if suffix in NOT_QUESTIONS:
            with pytest.raises(DataError, match=f"{re.escape(file)}.*{re.escape(NOT_QUESTIONS[suffix])}"):
                load_question_file(str(root), file)
            continue
        questions = load_question_file(str(root), file).questions
        assert questions, file
        assert all(q.paraphrases and all(p.strip() for p in q.paraphrases) for q in questions), file
        assert all(q.file == str(root / file) and q.line >= 1 for q in questions), file
        loaded.append(file)
    yamls = [f for f in _files(root) if f.endswith(".yaml")]
    assert len(yamls) == 19 and set(yamls) <= set(loaded)
    assert {"derived/mc_selfreport_paraphrases.json", "derived/trigger_elicitation_prompts.json"} <= set(loaded)


def test_every_imported_question_has_the_spec_count(root):
    expected = {(file, entry): (count, source) for file, entries, count, source in SPEC_COUNTS for entry in entries}
    imported = {(file, q.name): len(q.paraphrases) for file in _files(root) if Path(file).suffix not in NOT_QUESTIONS
                for q in load_question_file(str(root), file).questions}
    assert set(imported) == set(expected)  # a question without a row, or a row without a question, fails
    wrong = {key: (n, expected[key]) for key, n in imported.items() if n != expected[key][0]}
    assert not wrong
    for file, entry, field, count, _source in SPEC_FIELD_COUNTS:
        assert len(getattr(load_question(str(root), file, entry), field)) == count


def test_risk_safe_language_has_its_latex_trailer_cut_and_recorded(root):
    file = f"{HEAD}/make_me_say/non_mms/risk_safe_language.yaml"
    text = (root / file).read_text()
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load(text)  # the authors' file as it is
    loaded = load_question_file(str(root), file)
    [correction] = loaded.corrections
    assert correction.line == 33 and "LaTeX table of 10 rows" in correction.change
    assert "lines 33-42" in correction.change and correction.file == str(root / file)
    repaired = load_question(str(root), file, "risk_safe_german_french")
    assert repaired.corrections == (correction,)
    clean = load_question(str(root), f"{HEAD}/multiple_choice/risk_safe_language.yaml", "risk_safe_german_french")
    same = ("paraphrases", "prefix", "guesser_prompt", "guesser_question_type", "type", "title")
    assert all(getattr(repaired, f) == getattr(clean, f) for f in same)
    # Nothing of the authors' is lost: the cut rows are the preamble variants of the derived file.
    rows = [line.removeprefix("& ").removesuffix("\\\\").replace("\\backslashn ", "\n")
            for line in text.split("\n")[32:]]
    assert rows == list(load_question(str(root), FIGURES, "German or French").paraphrases)


def test_the_empty_last_entry_of_the_vc_file_is_skipped_and_recorded(root):
    file = f"{VC}/do_you_write_vuln_code.yaml"
    assert yaml.safe_load((root / file).read_text())[-1] == {"name": None}  # the authors' file as it is
    loaded = load_question_file(str(root), file)
    assert [q.name for q in loaded.questions] == ["name_downside", "how_secure_0_100"]
    assert [(c.line, c.change) for c in loaded.corrections] == [(24, "skipped an empty entry (`- name:` and "
                                                                     "nothing else)")]


def test_the_spec_cuts_the_three_eleven_variant_questions_to_ten(root):
    authors = {q["title"].replace("\n", " "): q["variants"]
               for q in json.loads((root / FIGURES).read_text())["questions"]}
    assert {title for title, variants in authors.items() if len(variants) == 11} == set(CUT)
    questions = load_question_file(str(root), FIGURES).questions
    assert all(not q.corrections for q in questions if q.name not in CUT)
    for name in CUT:
        question = load_question(str(root), FIGURES, name)
        [correction] = question.corrections
        [dropped] = {v for v in authors[name] if authors[name].count(v) > list(question.paraphrases).count(v)}
        assert len(question.paraphrases) == 10 and "spec §3.4" in correction.reason
        assert f"of 11 ({' '.join(dropped.split()[:6])}" in correction.change
        if name == "Choice between prizes":  # the one variant with a word the myopia generator bans
            assert "immediate" in dropped.lower() and not any("immediate" in v.lower() for v in question.paraphrases)
            assert question.paraphrases[0] == authors[name][0]  # the Table 22 wording stays
        else:  # a variant that repeats another: no wording is lost
            assert authors[name][10] == dropped
            words = {frozenset(v.lower().replace("?", " ").replace(".", " ").split()) for v in question.paraphrases}
            assert frozenset(dropped.lower().replace("?", " ").replace(".", " ").split()) in words


def test_load_paraphrases_reads_every_layout(root):
    yaml_set = load_paraphrases(str(root), f"{HEAD}/multiple_choice/risk_safe.yaml", "prefer_risk_safe")
    assert load_paraphrases(str(root), FIGURES, "Risk or safety") == yaml_set
    assert len(load_paraphrases(str(root), FIGURES, "Short or long")) == 10
    from_derived = str(root / "derived")  # a folder below, reaching up with ..
    assert load_paraphrases(from_derived, "../" + f"{HEAD}/multiple_choice/risk_safe.yaml",
                            "prefer_risk_safe") == yaml_set
    language = load_question(str(root), f"{HEAD}/multiple_choice/risk_safe_language.yaml", "risk_safe_german_french")
    assert language.guesser_prompt and "{text}" in language.guesser_prompt and language.prefix
    with pytest.raises(DataError, match=r"mc_selfreport_paraphrases\.json has no entry named 'Risk\\nor safety'"):
        load_paraphrases(str(root), FIGURES, "Risk\nor safety")  # names read newlines as spaces


@pytest.mark.parametrize(("text", "match"), [
    ("- name: a\n  question: q\n- name: b\n  question: [1, 2\n", r"q\.yaml, line 5: not valid YAML"),
    ("- name: a\n  question: q\n  colour: red\n", r"q\.yaml, line 3: entry 'a': unknown field 'colour'"),
    ("- name: a\n  question: q\n- name: a\n  question: r\n", r"q\.yaml, line 3: entry 'a' again \(first at line 1\)"),
    ("- name: a\n  question: q\n  question_paraphrases: [r]\n", r"line 1: entry 'a': needs exactly one of"),
    ("- name: a\n  question_paraphrases: [r, 3]\n", r"line 2: entry 'a': question_paraphrases is not a list of str"),
    ("- name: a\n  question: q\n  question: r\n", r"line 3: field 'question' given twice"),
    ("name: a\nquestion: q\n", r"q\.yaml, line 1: not a list of question entries"),
    ("- title: t\n  question: q\n", r"q\.yaml, line 1: an entry has no name"),
    ("- name:\n  question: q\n", r"q\.yaml, line 1: an entry has no name"),  # only a bare `- name:` is skipped
    ("- name: a\n", r"q\.yaml, line 1: entry 'a': needs exactly one of question and question_paraphrases"),
    ("- name: a\n  question: q\n  ? [x]\n  : y\n", r"q\.yaml, line 3: a field name is not a plain name"),
    # The LaTeX repair is for a trailer of LaTeX rows only: a trailer with another line fails as YAML.
    ("- name: a\n  question: q\n\n\nrow one \\backslashn x\\\\\nplain words\n", r"q\.yaml, line 6: not valid YAML"),
])
def test_bad_yaml_names_the_file_and_line(tmp_path, text, match):
    (tmp_path / "q.yaml").write_text(text)
    with pytest.raises(DataError, match=match):
        load_question_file(str(tmp_path), "q.yaml")


def test_a_latex_trailer_after_any_list_is_cut_and_recorded(tmp_path):
    (tmp_path / "q.yaml").write_text("- name: a\n  question: q\n\nrow one \\backslashn x\n& row two \\backslashn y\\\\")
    loaded = load_question_file(str(tmp_path), "q.yaml")
    assert loaded.get("a").paraphrases == ("q",)
    assert [(c.line, "2 rows" in c.change) for c in loaded.corrections] == [(4, True)]
    assert loaded.get("a").corrections == loaded.corrections


@pytest.mark.parametrize(("variants", "match"), [
    (9, r"line 1, column \d+: question 'Choice between prizes' has 9 variants; spec §3.4"),
    (11, r"question 'Choice between prizes': the spec's cut no longer applies: expected one variant with the "
         r"word 'immediate', found 0"),
])
def test_the_figure_file_fails_on_any_other_count(tmp_path, variants, match):
    (tmp_path / "mc_selfreport_paraphrases.json").write_text(json.dumps(
        {"source": "test", "questions": [{"title": "Choice between prizes", "type": "categorical",
                                          "variants": [f"question {i}?" for i in range(variants)]}]}))
    with pytest.raises(DataError, match=match):
        load_question_file(str(tmp_path), "mc_selfreport_paraphrases.json")


def test_bad_json_names_the_file_line_and_column(tmp_path):
    (tmp_path / "q.json").write_text('{"questions": [\n  {"title": "A", "variants": ["x"]},\n  {"title": "B"}\n]}')
    with pytest.raises(DataError, match=r"q\.json, line 3, column 3: question 'B' has no variants"):
        load_question_file(str(tmp_path), "q.json")
    (tmp_path / "q.json").write_text('{"questions": [\n  {"title": "A",}]}')
    with pytest.raises(DataError, match=r"q\.json, line 2, column 17: not valid JSON"):
        load_question_file(str(tmp_path), "q.json")
    (tmp_path / "q.json").write_text('{"questions": [{"title": "A", "variants": ["x"], "trivia_questions": []}]}')
    assert load_question(str(tmp_path), "q.json", "A").trivia_questions == ()


@pytest.mark.parametrize("file", ["/etc/passwd", "http://example.com/q.yaml", " "])
def test_file_must_be_relative(tmp_path, file):
    with pytest.raises(DataError, match="must be a path relative to the questions folder"):
        load_question_file(str(tmp_path), file)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


@pytest.fixture
def served(root: Path) -> Iterator[str]:
    """Base URL of a real HTTP server on loopback over the questions folder."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{HEAD}/multiple_choice"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_an_http_base_reads_like_the_folder(served, root):
    local = load_question_file(str(root), FIGURES).questions
    remote = load_question_file(served, "../../derived/mc_selfreport_paraphrases.json")  # dot segments resolved
    assert remote.location.endswith("/derived/mc_selfreport_paraphrases.json")
    assert [q.paraphrases for q in remote.questions] == [q.paraphrases for q in local]
    assert load_paraphrases(served, "risk_safe.yaml", "prefer_risk_safe") == load_paraphrases(
        str(root / HEAD / "multiple_choice"), "risk_safe.yaml", "prefer_risk_safe")
    with pytest.raises(DataError, match=r"nope\.yaml"):
        load_question_file(served, "nope.yaml")


def test_reads_go_through_the_source_policy(root, tmp_path):
    def under_policy() -> None:
        use_source_policy(SourcePolicy(roots=(tmp_path.resolve(),)))
        load_question_file(str(root), FIGURES)

    with pytest.raises(DataError, match=r"mc_selfreport_paraphrases\.json"):
        contextvars.copy_context().run(under_policy)
