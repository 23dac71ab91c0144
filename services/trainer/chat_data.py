"""Chat rows -> token ids with assistant-only labels, and padding-aware batches.

The loss is computed on assistant tokens only (every assistant turn, so multi-turn dialogues work too): the
tokens a row's chat template adds for an assistant message are labelled, everything else is -100. A row longer
than the job's token limit loses whole trailing turns (`fit_rows`): its start is kept, because a dialogue opens
with the user and each kept turn is then learnt whole, end-of-turn token included. Batches group
rows of similar length (then the batch order is shuffled with the job's seed), which cuts padding by about a
fifth on the risk data, and rows are left-padded so the labelled tokens sit at the end and only their logits
need computing (see `suffix_to_keep`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from selfaware.errors import DataError

IGNORE = -100


@dataclass(frozen=True)
class EncodedRow:
    input_ids: list[int]
    labels: list[int]
    #: The token count after each assistant turn: where the row can be cut with every kept turn whole.
    turn_ends: tuple[int, ...] = ()


@dataclass(frozen=True)
class Batch:
    input_ids: Any  # torch.LongTensor [batch, length]
    attention_mask: Any
    position_ids: Any
    labels: Any
    #: Logits are needed only for this many final positions (the labelled suffix plus one).
    keep: int


def encode_chat(tokenizer: Any, messages: list[dict[str, str]], row: int) -> EncodedRow:
    """Tokenise one conversation with the model's chat template and label its assistant turns."""
    ids: list[int] = []
    labels: list[int] = []
    ends: list[int] = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = tokenizer.apply_chat_template(messages[:i], add_generation_prompt=True, tokenize=False)
        after = tokenizer.apply_chat_template(messages[: i + 1], tokenize=False)
        before_ids = tokenizer(before, add_special_tokens=False)["input_ids"]
        after_ids = tokenizer(after, add_special_tokens=False)["input_ids"]
        if after_ids[: len(before_ids)] != before_ids or before_ids[: len(ids)] != ids:
            raise DataError(f"row {row}: the chat template does not tokenise as a prefix of itself")
        labels += [IGNORE] * (len(before_ids) - len(ids)) + after_ids[len(before_ids):]
        ids = after_ids
        ends.append(len(ids))
    if not ids:
        raise DataError(f"row {row}: no assistant message to learn from")
    return EncodedRow(ids, labels, tuple(ends))


def fit_rows(rows: list[EncodedRow], max_tokens: int) -> tuple[list[EncodedRow], dict[str, float]]:
    """The rows cut to at most `max_tokens` tokens each (0: no limit), and what that did, as job metrics.

    A longer row is cut after its last assistant turn that ends within the limit (whole trailing turns are
    dropped; the row's start is kept); a row whose first assistant turn already ends past the limit is dropped.
    Metrics: `tokens_per_row.min` / `.mean` / `.max` (as the data came, before any cut), `rows_truncated`,
    `rows_dropped_too_long`.

    Raises:
        DataError: the limit drops every row.
    """
    lengths = [len(row.input_ids) for row in rows]
    fitted: list[EncodedRow] = []
    truncated = 0
    for row in rows:
        if not max_tokens or len(row.input_ids) <= max_tokens:
            fitted.append(row)
            continue
        ends = [end for end in row.turn_ends if end <= max_tokens]
        if ends:
            fitted.append(EncodedRow(row.input_ids[:ends[-1]], row.labels[:ends[-1]], tuple(ends)))
            truncated += 1
    if not fitted:
        shortest = min(row.turn_ends[0] for row in rows)
        raise DataError(f"training.params.max_tokens_per_row: every row's first exchange is longer than "
                        f"{max_tokens} tokens (the shortest is {shortest}); raise the limit")
    metrics = {"tokens_per_row.min": float(min(lengths)), "tokens_per_row.mean": sum(lengths) / len(lengths),
               "tokens_per_row.max": float(max(lengths)), "rows_truncated": float(truncated),
               "rows_dropped_too_long": float(len(rows) - len(fitted))}
    return fitted, metrics


def batch_indices(rows: list[EncodedRow], batch_size: int, seed: int, epoch: int,
                  group_by_length: bool = True) -> list[list[int]]:
    """Length-grouped batches in a seeded random order (a different order each epoch); without grouping, rows in
    a seeded random order."""
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(rows)))
    rng.shuffle(order)  # ties in length are broken randomly
    if group_by_length:
        order.sort(key=lambda i: len(rows[i].input_ids))
    batches = [order[i: i + batch_size] for i in range(0, len(order), batch_size)]
    if group_by_length:
        rng.shuffle(batches)
    return batches


def collate(rows: list[EncodedRow], pad_id: int) -> Batch:
    """Left-pad a batch and compute how many final positions carry labels."""
    import torch

    length = max(len(r.input_ids) for r in rows)
    ids, mask, labels = [], [], []
    for r in rows:
        pad = length - len(r.input_ids)
        ids.append([pad_id] * pad + r.input_ids)
        mask.append([0] * pad + [1] * len(r.input_ids))
        labels.append([IGNORE] * pad + r.labels)
    first_label = min(next(i for i, v in enumerate(row) if v != IGNORE) for row in labels)
    attention = torch.tensor(mask)
    return Batch(
        input_ids=torch.tensor(ids),
        attention_mask=attention,
        position_ids=(attention.cumsum(-1) - 1).clamp(min=0),
        labels=torch.tensor(labels),
        keep=length - first_label + 1,
    )


def suffix_loss(logits: Any, labels: Any, keep: int) -> Any:
    """Mean cross-entropy of the labelled tokens, from logits of the last `keep` positions only."""
    import torch.nn.functional as F

    targets = labels[:, labels.shape[1] - keep + 1:]
    predictions = logits[:, :-1]
    return F.cross_entropy(predictions.reshape(-1, predictions.shape[-1]), targets.reshape(-1), ignore_index=IGNORE)
