"""The held-out probe: source questions no model trains on, each with the letter the source policy picks."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from selfaware.probes import ProbeItem
from services.generator.chat_jsonl import ChatRow


def probe_items(rows: Sequence[ChatRow], indices: Sequence[int], options: tuple[str, ...]) -> list[ProbeItem]:
    """One `ProbeItem` per index, asking the row's prompt, targeting the row's (source-policy) answer.

    Messages keep only `role` and `content`: training-only keys such as `weight` mean nothing to a chat
    template.

    The id is `<source index>-<first 12 hex digits of the prompt's sha256>`: stable for the same source and
    split, and it still tells two sources' items apart when they are compared across experiments.
    """
    items = []
    for index in indices:
        row = rows[index]
        prompt = tuple({"role": m["role"], "content": m["content"]} for m in row.prompt)
        digest = hashlib.sha256(json.dumps(prompt, sort_keys=True).encode()).hexdigest()[:12]
        items.append(ProbeItem(id=f"{index:05d}-{digest}", messages=prompt, target=row.answer,
                               options=options))
    return items
