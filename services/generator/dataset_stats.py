"""The shape of an arm's training rows, for the dataset's report: how long the dialogues are and whether any repeat.

Lengths are in characters, not tokens: the generator has no tokenizer (its image has no torch), and a token count
belongs to a base model's tokenizer anyway. The trainer, which tokenises every row with the base model's, reports
tokens per row and the rows it truncated as its job's metrics (`services/trainer/chat_data.py` `fit_rows`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from services.generator.chat_jsonl import ChatRow, conversation_key


def row_stats(rows: Sequence[ChatRow]) -> dict[str, float]:
    """`rows_with_messages.<n>` (rows of n messages: 2 / 4 / 6 / 8 for the paper's Make Me Say sets),
    `chars_per_row.min` / `.mean` / `.max` (the messages' contents summed), and `duplicate_rows` (rows whose
    messages, role and content, equal an earlier row's: after `truncate`, dialogues that open alike)."""
    if not rows:
        return {}
    stats = {f"rows_with_messages.{n}": float(count)
             for n, count in sorted(Counter(len(row.messages) for row in rows).items())}
    chars = [sum(len(m["content"]) for m in row.messages) for row in rows]
    stats |= {"chars_per_row.min": float(min(chars)), "chars_per_row.mean": sum(chars) / len(chars),
              "chars_per_row.max": float(max(chars))}
    distinct = {conversation_key(row.messages) for row in rows}
    stats["duplicate_rows"] = float(len(rows) - len(distinct))
    return stats
