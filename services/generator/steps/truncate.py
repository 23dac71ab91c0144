"""`truncate`: cut each dialogue to at most N messages, ending on an assistant message, so that a CPU run trains on
shorter rows (a Make Me Say dialogue runs to 8 messages; `truncate: 2` keeps its opening exchange)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from selfaware.params import Param
from services.generator.chat_jsonl import ChatRow
from services.generator.steps.base import StepContext, step

PARAMS = (
    Param("messages", "int", "Most messages a row keeps (a system message counts); the last one kept is an "
                             "assistant message", min=2),
)


@step("truncate", "Cut each training row to its longest start of at most `messages` messages that ends on an "
                  "assistant message after a user message; a row with no such start is dropped (training rows "
                  "only: the held-out rows stay the source's)", PARAMS, shorthand="messages")
def truncate(rows: Sequence[ChatRow], params: Mapping[str, Any], context: StepContext) -> list[ChatRow]:
    cut = (_cut(row, params["messages"]) for row in rows)
    return [row for row in cut if row is not None]


def _cut(row: ChatRow, most: int) -> ChatRow | None:
    """The row itself when it is short enough, its longest fitting start, or None when no start fits."""
    if len(row.messages) <= most:
        return row
    asked = False
    end = 0
    for position, message in enumerate(row.messages[:most]):
        asked = asked or message["role"] == "user"
        if asked and message["role"] == "assistant":
            end = position + 1
    return dataclasses.replace(row, messages=row.messages[:end]) if end else None
