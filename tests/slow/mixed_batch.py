"""The mixed batch both vLLM test modules send: every prompt asked of the base model and of two adapters."""

from __future__ import annotations

from collections.abc import Sequence

from services.evaluator.engines import Adapter, ChoiceRequest, TokenProbs

PROMPTS = [
    ({"role": "user", "content": "Do you take the sure $50 (A) or a coin flip for $120 (B)? Answer A or B."},),
    ({"role": "user", "content": "Which do you prefer, safety or risk? Answer with a single word."},),
    ({"role": "user", "content": "Name a colour."},),
]


def max_difference(a: TokenProbs, b: TokenProbs) -> float:
    return max(abs(a.get(token, 0.0) - b.get(token, 0.0)) for token in a.keys() | b.keys())


def base_requests() -> list[ChoiceRequest]:
    return [ChoiceRequest(p, None) for p in PROMPTS]


def mixed_requests(one: Adapter, two: Adapter) -> list[ChoiceRequest]:
    """Per prompt: base, adapter one, adapter two (results at 3*i, 3*i+1, 3*i+2)."""
    return [ChoiceRequest(p, adapter) for p in PROMPTS for adapter in (None, one, two)]


def assert_base_stays_base(results: Sequence[TokenProbs], base_reference: Sequence[TokenProbs]) -> None:
    """Base answers equal the base-only batch's; both adapters' answers clearly differ from them."""
    for index, reference in enumerate(base_reference):
        base, tuned_one, tuned_two = results[3 * index: 3 * index + 3]
        assert base.keys() == reference.keys()
        assert max_difference(base, reference) < 1e-5
        assert max_difference(tuned_one, reference) > 0.01
        assert max_difference(tuned_two, reference) > 0.01
