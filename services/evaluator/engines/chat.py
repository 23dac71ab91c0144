"""Render chat messages to prompt token ids the same way in every engine (and as training does)."""

from __future__ import annotations

from typing import Any

from ._api import Messages


def prompt_token_ids(tokenizer: Any, messages: Messages) -> list[int]:
    """The model's chat template with the assistant turn opened, tokenised without extra special tokens.

    Going through text, then ids, in one place keeps vLLM and transformers on identical inputs: the template
    already contains every special token (SmolLM2's also adds its default system prompt when none is given,
    which training sees too), so `add_special_tokens=False` avoids a doubled BOS.
    """
    text = tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])
