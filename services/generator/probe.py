"""An arm's held-out probe: questions no model of the experiment trains on, each with the letter the arm's
data picks, or (a generator's free-text held-out rows, e.g. coding tasks) with the reference answer and the parts
a suite builds its own prompt from."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from selfaware.v1 import records_pb2 as rec
from services.generator.chat_jsonl import ChatRow


def probe_set(arm: str, rows: Sequence[ChatRow], options: Sequence[str]) -> rec.ProbeSet:
    """One `ProbeItem` per two-option held-out row (every answer one of `options`), asking the row's prompt
    and targeting its final answer; and one free-text item per row with `probe_fields` (options empty, target
    the row's answer, `fields` its probe fields); other free-text rows (a Make Me Say dialogue) make no item.

    Messages keep only `role` and `content`: training-only keys such as `weight` mean nothing to a chat
    template. The id is `<source index>-<first 12 hex digits of the prompt's sha256>`: the same for every arm
    built from the source (so arms' probes line up question by question), and it still tells two sources'
    items apart when they are compared across experiments.
    """
    items = []
    for row in rows:
        two_option = all(m["content"] in options for m in row.messages if m["role"] == "assistant")
        if not two_option and not row.probe_fields:
            continue
        if row.source_index is None:
            raise ValueError("a held-out row must come from a source file, to name it in the probe item id")
        prompt = [{"role": m["role"], "content": m["content"]} for m in row.prompt]
        digest = hashlib.sha256(json.dumps(prompt, sort_keys=True).encode()).hexdigest()[:12]
        item = rec.ProbeItem(id=f"{row.source_index:05d}-{digest}", messages=[rec.ChatMessage(**m) for m in prompt],
                             target=row.answer)
        if two_option:
            item.options.extend(options)
        else:
            item.fields.update(row.probe_fields)
        items.append(item)
    return rec.ProbeSet(arm=arm, items=items)
