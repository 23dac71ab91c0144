"""`filter`: drop rows that mention given words, e.g. words naming the behaviour (spec §3.1 bans some)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from selfaware.params import Param
from services.generator.chat_jsonl import ChatRow
from services.generator.steps.base import StepContext, step

PARAMS = (Param("exclude_words", "strings", "Rows where a message contains one of these words are dropped"),)


@step("filter", "Drop rows where any message contains any of the words (case-insensitive, whole words; "
                "training and held-out rows)", PARAMS, shorthand="exclude_words", applies_to_heldout=True)
def filter_rows(rows: Sequence[ChatRow], params: Mapping[str, Any], context: StepContext) -> list[ChatRow]:
    words = [word.strip() for word in params["exclude_words"] if word.strip()]
    if not words:
        return list(rows)
    # Lookarounds rather than \b, so that words starting or ending with punctuation ("c++") match whole too.
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, words)) + r")(?!\w)", re.IGNORECASE)
    return [row for row in rows if not any(pattern.search(m["content"]) for m in row.messages)]
