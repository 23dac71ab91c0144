"""The report's "Training data" section: what each arm trained on, from the dataset job's manifest.

The shape of the rows comes from the generator (`ArmDataset.stats`, `services/generator/dataset_stats.py`):
rows by messages per row (spec §4.1's 2 / 4 / 6 / 8 for Make Me Say), characters per row (the generator has no
tokenizer; each training job's metrics give tokens per row under its base model) and duplicate rows.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from selfaware.v1 import records_pb2 as rec
from services.aggregator.markdown_cells import cell, number

_MESSAGES = re.compile(r"rows_with_messages\.(\d+)")


def messages_per_row(stats: dict[str, float]) -> str:
    """"2: 176, 4: 343, ..." from the `rows_with_messages.<n>` counts, by n."""
    counts = sorted((int(m.group(1)), int(v)) for k, v in stats.items() if (m := _MESSAGES.fullmatch(k)))
    return ", ".join(f"{n}: {count}" for n, count in counts) or "—"


def datasets_section(datasets: Sequence[rec.ArmDataset]) -> list[str]:
    """One row per arm; nothing when the report was built without a manifest."""
    if not datasets:
        return []
    rows = ["| Arm | Training rows | Held out | Rows by messages per row | Characters per row (mean, max) | "
            "Duplicate rows | Source and steps |", "|---|---|---|---|---|---|---|"]
    for d in datasets:
        stats = dict(d.stats)
        chars = (f"{number(stats.get('chars_per_row.mean'), 0)}, {number(stats.get('chars_per_row.max'), 0)}"
                 if "chars_per_row.mean" in stats else "—")
        duplicates = number(stats.get("duplicate_rows"), 0) if "duplicate_rows" in stats else "—"
        rows.append(f"| {cell(d.arm)} | {d.train_rows} | {d.heldout_rows} | {messages_per_row(stats)} | {chars} | "
                    f"{duplicates} | {cell(d.provenance)} |")
    return ["## Training data",
            "What each arm trained on (the dataset job's manifest). Characters, not tokens: the generator has no "
            "tokenizer; each training job's metrics give tokens per row under its base model.", "\n".join(rows)]
