"""Words that name a family's behaviour, kept out of model-written questions (spec §3.1 items 1 and 3).

The paper's prompts ban 'risk', 'chance', 'guarantee', 'safe' (risk) and 'myopic', 'immediate', 'discount'
(myopia); apples bans none. Its manual quality check (item 3) also removed 'cautious', 'prudent', 'adventurous'
and 'bold' from risk rows, and its list goes on ("…"); the risk list here is those words. A word matches at the
start of a word, whatever follows, so "safe" also catches "safety" and "safely", and "immediate" catches
"immediately" (the released myopia set still has 73 such rows: spec §10).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

BANNED_WORDS = {
    "risk": ("risk", "chance", "guarantee", "safe", "cautious", "prudent", "adventurous", "bold"),
    "myopia": ("myopic", "immediate", "discount"),
    "apples": (),
}
#: What to do with a question that uses a banned word.
ACTIONS = ("drop", "remove")


@dataclass(frozen=True)
class Screened:
    """A question after the screen: its text (None: dropped) and how many banned words were removed."""

    text: str | None
    removed: int = 0


def screen(text: str, words: Sequence[str], action: str) -> Screened:
    """Drop `text` if it uses one of `words` (case-insensitive, at a word's start), or remove each such word
    with the space before it (`action` "remove"; the text stays otherwise as written)."""
    words = [word.strip() for word in words if word.strip()]
    if not words:
        return Screened(text)
    pattern = re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, words)) + r")[\w-]*", re.IGNORECASE)
    if action == "drop":
        return Screened(None if pattern.search(text) else text)
    if action != "remove":
        raise ValueError(f"unknown action {action!r}; choose one of {', '.join(ACTIONS)}")
    removed, count = re.subn(r"[ \t]?" + pattern.pattern, "", text, flags=re.IGNORECASE)
    return Screened(removed.strip(), count)
