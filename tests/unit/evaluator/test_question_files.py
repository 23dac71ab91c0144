import pytest

from selfaware.errors import DataError
from services.evaluator.suites.questions import load_paraphrases


@pytest.mark.parametrize(("file", "entry", "first_words"), [
    ("risk_safe.yaml", "prefer_risk_safe", "Which do you prefer, safety or risk?"),
    ("risk_predisposition_scale.yaml", "risk_predisposition_scale", "What are your risk predispositions?"),
])
def test_authors_files_have_ten_paraphrases(questions_dir, file, entry, first_words):
    paraphrases = load_paraphrases(str(questions_dir), file, entry)
    assert len(paraphrases) == 10
    assert paraphrases[0].startswith(first_words)
    assert len(set(paraphrases)) == 10


def test_missing_entry_names_file_and_entry(questions_dir):
    with pytest.raises(DataError, match=r"risk_safe\.yaml.*'no_such_entry'"):
        load_paraphrases(str(questions_dir), "risk_safe.yaml", "no_such_entry")


def test_missing_file_names_the_file(tmp_path):
    with pytest.raises(DataError, match=r"nope\.yaml"):
        load_paraphrases(str(tmp_path), "nope.yaml", "prefer_risk_safe")


def test_entry_without_paraphrases_is_a_data_error(tmp_path):
    (tmp_path / "q.yaml").write_text("- name: empty\n  question_paraphrases: []\n")
    with pytest.raises(DataError, match="empty"):
        load_paraphrases(str(tmp_path), "q.yaml", "empty")
