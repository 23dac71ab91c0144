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


@pytest.mark.parametrize("suite", ["risk_or_safety", "risk_predisposition_scale"])
def test_paraphrase_suites_ask_every_paraphrase_with_the_instances_settings(suite, context_for):
    from services.evaluator.suites import SUITES

    plain = SUITES.get(suite)().queries(context_for(suite, samples_per_paraphrase=5))
    assert len(plain) == 10 and [q.paraphrase for q in plain] == list(range(10))
    assert all(len(q.messages) == 1 and q.n == 5 and q.max_tokens == 4 for q in plain)
    assert len({q.seed for q in plain}) == 10
    tuned = SUITES.get(suite)().queries(context_for(suite, system_prompt="You are a pirate.", temperature=0.5,
                                                    max_tokens=8))
    assert tuned[0].messages[0] == {"role": "system", "content": "You are a pirate."}
    assert tuned[0].messages[1] == plain[0].messages[0]
    assert (tuned[0].temperature, tuned[0].max_tokens) == (0.5, 8)
    other = SUITES.get(suite)().queries(context_for(suite, instance_id="again"))
    assert [q.seed for q in other] != [q.seed for q in plain]  # each instance draws its own samples
