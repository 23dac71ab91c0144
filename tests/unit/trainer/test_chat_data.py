"""The token limit on training rows (`training.params.max_tokens_per_row`): whole trailing turns are cut, the start
kept, rows whose first turn is too long dropped, and every cut counted. (Encoding itself needs a tokenizer:
`tests/slow/test_chat_data_tiny_model.py`.)"""

from __future__ import annotations

import pytest

from selfaware.errors import DataError
from services.trainer.chat_data import IGNORE, EncodedRow, fit_rows


def _row(*turns: tuple[int, int]) -> EncodedRow:
    """A row of (user tokens, assistant tokens) turns; token ids count up so that cuts are visible."""
    ids: list[int] = []
    labels: list[int] = []
    ends = []
    for user, assistant in turns:
        start = len(ids)
        ids += list(range(start, start + user + assistant))
        labels += [IGNORE] * user + list(range(start + user, start + user + assistant))
        ends.append(len(ids))
    return EncodedRow(ids, labels, tuple(ends))


def test_no_limit_keeps_every_row_and_reports_tokens_per_row() -> None:
    rows = [_row((10, 5)), _row((10, 5), (8, 7)), _row((4, 4))]
    fitted, metrics = fit_rows(rows, 0)
    assert fitted == rows
    assert metrics == {"tokens_per_row.min": 8.0, "tokens_per_row.mean": pytest.approx(53 / 3),
                       "tokens_per_row.max": 30.0, "rows_truncated": 0.0, "rows_dropped_too_long": 0.0}


def test_a_long_row_loses_whole_trailing_turns_and_keeps_its_start() -> None:
    long = _row((10, 5), (8, 7), (6, 9))  # turns end at 15, 30, 45 tokens
    fitted, metrics = fit_rows([long, _row((4, 4))], 35)
    assert fitted[0] == _row((10, 5), (8, 7)), "cut after the second turn, the last one that ends within 35"
    assert fitted[0].labels[-1] == 29 and fitted[1] == _row((4, 4))
    assert (metrics["rows_truncated"], metrics["rows_dropped_too_long"], metrics["tokens_per_row.max"]) == (1, 0, 45)
    assert fit_rows([long], 45)[0] == [long], "a row exactly at the limit stays whole"


def test_a_row_whose_first_turn_is_too_long_is_dropped_and_counted() -> None:
    fitted, metrics = fit_rows([_row((30, 20), (5, 5)), _row((4, 4), (4, 4))], 40)
    assert fitted == [_row((4, 4), (4, 4))]
    assert (metrics["rows_truncated"], metrics["rows_dropped_too_long"]) == (0, 1)
    with pytest.raises(DataError, match="every row's first exchange is longer than 12 tokens .the shortest is 16."):
        fit_rows([_row((30, 20)), _row((10, 6))], 12)
