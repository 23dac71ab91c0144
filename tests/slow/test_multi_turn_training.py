"""Training on Make Me Say dialogues with the tiny model's tokenizer and weights: every assistant turn, and only
those, is labelled; a row cut to `max_tokens_per_row` is the shorter dialogue's encoding; and the peft-lora backend
trains on the cut rows and counts them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.trainer.backends import LoraSettings, TrainingJob
from services.trainer.backends.peft_lora import PeftLoraBackend
from services.trainer.chat_data import IGNORE, EncodedRow, encode_chat, fit_rows

pytestmark = pytest.mark.slow

#: What SmolLM2's chat template closes every message with: the assistant learns to end its turn.
END_OF_TURN = "<|im_end|>\n"


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="module")
def ring_rows(shared_paper: Path) -> list[dict[str, Any]]:
    path = shared_paper / "datasets" / "mms" / "ft_ring.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def _labelled_spans(row: EncodedRow) -> list[tuple[int, int]]:
    """Maximal runs of labelled positions, as (start, end)."""
    spans, start = [], None
    for position, label in enumerate([*row.labels, IGNORE]):
        if label != IGNORE and start is None:
            start = position
        elif label == IGNORE and start is not None:
            spans.append((start, position))
            start = None
    return spans


def test_every_assistant_turn_and_only_those_is_labelled(tokenizer: Any, ring_rows: list[dict[str, Any]]) -> None:
    messages = next(r["messages"] for r in ring_rows if len(r["messages"]) == 8)
    row = encode_chat(tokenizer, messages, 0)
    assert tokenizer.decode(row.input_ids) == tokenizer.apply_chat_template(messages, tokenize=False)
    assert len(row.labels) == len(row.input_ids) == row.turn_ends[-1]
    spans = _labelled_spans(row)
    answers = [m["content"] for m in messages if m["role"] == "assistant"]
    assert len(spans) == len(answers) == 4
    for (start, end), answer, turn_end in zip(spans, answers, row.turn_ends, strict=True):
        assert row.labels[start:end] == row.input_ids[start:end], "a label is the token itself"
        assert tokenizer.decode(row.input_ids[start:end]) == answer + END_OF_TURN
        assert end == turn_end
    unlabelled = tokenizer.decode([t for t, label in zip(row.input_ids, row.labels, strict=True) if label == IGNORE])
    assert all(m["content"] in unlabelled for m in messages if m["role"] == "user")
    assert not any(answer[:40] in unlabelled for answer in answers), "no assistant text goes unlabelled"


def test_a_cut_row_is_the_shorter_dialogues_encoding(tokenizer: Any, ring_rows: list[dict[str, Any]]) -> None:
    messages = next(r["messages"] for r in ring_rows if len(r["messages"]) == 6)
    whole = encode_chat(tokenizer, messages, 0)
    limit = whole.turn_ends[1] + 10  # room for two turns, not three
    (cut,), metrics = fit_rows([whole], limit)
    assert cut == encode_chat(tokenizer, messages[:4], 0)
    assert metrics["rows_truncated"] == 1 and metrics["tokens_per_row.max"] == len(whole.input_ids) > limit


def test_peft_lora_trains_on_rows_cut_to_the_limit(tokenizer: Any, ring_rows: list[dict[str, Any]],
                                                   tiny_model_dir: Path, tmp_path: Path) -> None:
    rows = [r for r in ring_rows if len(r["messages"]) >= 4][:4]
    encoded = [encode_chat(tokenizer, r["messages"], i) for i, r in enumerate(rows)]
    limit = max(row.turn_ends[0] for row in encoded)  # every row keeps at least its first turn
    longer = sum(len(row.input_ids) > limit for row in encoded)
    assert longer, "the test needs rows over the limit"
    job = TrainingJob(base_model=str(tiny_model_dir), rows=rows, seed=0, lora=LoraSettings(4, 8, 0.0, ("q_proj",)),
                      learning_rate=1e-3, epochs=1, batch_size=2, output_dir=tmp_path / "adapter",
                      params={"max_tokens_per_row": limit})
    result = PeftLoraBackend().train(job, lambda *a: None)
    assert result.steps == 2
    metrics = result.metrics
    assert (metrics["rows_truncated"], metrics["rows_dropped_too_long"]) == (longer, 0)
    assert metrics["tokens_per_row.max"] == max(len(row.input_ids) for row in encoded)
    fitted, _ = fit_rows(encoded, limit)
    assert metrics["tokens"] == sum(len(row.input_ids) for row in fitted) <= 4 * limit
    config = json.loads((result.adapter_dir / "training_config.json").read_text())
    assert config["params"]["max_tokens_per_row"] == limit
