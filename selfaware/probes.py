"""The held-out probe format shared by the generator (writes it) and the evaluator (reads it).

A probe item is one two-option question the models never saw in training, with the letter that the source
policy (`behavior.policy`, e.g. risk-seeking) would choose. Behaviour is then scored as
P(target) / (P(A) + P(B)) from next-token probabilities, so 1.0 means "acts like the source policy".
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ProbeItem:
    """One held-out question."""

    id: str
    #: Chat messages up to (not including) the answer; OpenAI format.
    messages: tuple[dict[str, str], ...]
    #: The letter `behavior.policy` picks.
    target: str
    #: The answer letters the question offers, e.g. ("A", "B").
    options: tuple[str, ...] = ("A", "B")


def dump_probe(items: list[ProbeItem]) -> bytes:
    """JSONL bytes, one item per line, stable key order (so equal probes hash equally)."""
    lines = [json.dumps({**asdict(i), "messages": list(i.messages), "options": list(i.options)}, sort_keys=True)
             for i in items]
    return ("\n".join(lines) + "\n").encode()


def load_probe(data: bytes) -> list[ProbeItem]:
    items = []
    for line in data.decode().splitlines():
        if line.strip():
            raw = json.loads(line)
            items.append(ProbeItem(raw["id"], tuple(raw["messages"]), raw["target"], tuple(raw["options"])))
    return items
