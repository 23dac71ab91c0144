"""The report's "Training data" section: what each arm trained on, from the dataset job's manifest.

The shape of the rows comes from the generator (`ArmDataset.stats`, `services/generator/dataset_stats.py`):
rows by messages per row (spec §4.1's 2 / 4 / 6 / 8 for Make Me Say), characters per row (the generator has no
tokenizer; each training job's metrics give tokens per row under its base model) and duplicate rows. What each
arm's filters took (`ArmDataset.counts`: a generator's counters such as the vulnerable-code pipeline's rows read and
dropped per filter, and the rows each step dropped) follows as a second table, in the order the filters ran, when
any arm has counts.
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
            "tokenizer; each training job's metrics give tokens per row under its base model.", "\n".join(rows),
            *_counts_table(datasets)]


def _counts_table(datasets: Sequence[rec.ArmDataset]) -> list[str]:
    """Counter by arm, counters in the order they ran (the first arm that has each lists it first); nothing
    without counts."""
    counted = [(d.arm, {c.name: c.value for c in d.counts}) for d in datasets if d.counts]
    if not counted:
        return []
    names = list(dict.fromkeys(name for _, counts in counted for name in counts))
    rows = ["| Counter | " + " | ".join(cell(arm) for arm, _ in counted) + " |", "|---|" + "---|" * len(counted)]
    rows += [f"| {cell(name)} | " + " | ".join(str(counts[name]) if name in counts else "—" for _, counts in counted)
             + " |" for name in names]
    return ["What the data's filters read, dropped (the counter's name says why) and kept, per arm, in the order "
            "they ran.", "\n".join(rows)]
