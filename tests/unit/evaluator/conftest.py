from pathlib import Path

import pytest

#: The authors' question files, in the shared reference folder beside the repository.
QUESTIONS_DIR = (Path(__file__).resolve().parents[3].parent
                 / "shared/paper/questions/official_repo_HEAD_d7e60be/multiple_choice")


@pytest.fixture(scope="session")
def questions_dir() -> Path:
    return QUESTIONS_DIR
