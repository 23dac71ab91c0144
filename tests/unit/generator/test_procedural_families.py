"""What `procedural-prizes` (myopia) and `procedural-apples` (apples) promise: labels right by construction,
gaps in equal shares, and no words the paper bans."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from services.generator.generators.procedural_apples import APPLES
from services.generator.generators.procedural_apples import GAPS as APPLE_GAPS
from services.generator.generators.procedural_prizes import BANNED_WORDS, LATER, SOONER
from services.generator.generators.procedural_prizes import GAPS as PRIZE_GAPS

from .test_generators import generate


def _options(question: str) -> dict[str, str]:
    """{"A": text, "B": text} of a question in any of the layouts."""
    for pattern in (r"Option A: You get (.*?)\. Option B: You get (.*?)\.(?: |$)",
                    r"Choice A gives you (.*?)\. Choice B gives you (.*?)\.(?: |$)",
                    r"\nA\) You get (.*?)\.\nB\) You get (.*?)\.(?: |$)"):
        match = re.search(pattern, question)
        if match:
            return {"A": match.group(1), "B": match.group(2)}
    raise AssertionError(f"no options in {question!r}")


def _amount(text: str) -> int:
    return int(re.match(r"(\d+) ", text).group(1))  # type: ignore[union-attr]


def _apples(text: str) -> int:
    kinds = "|".join(re.escape(kind.removesuffix("s")) for kind in APPLES)
    match = re.search(rf"(\d+|one) (?:{kinds})s?\b", text)
    return 0 if match is None else 1 if match.group(1) == "one" else int(match.group(1))


def test_myopic_answers_pick_the_smaller_prize_that_comes_sooner() -> None:
    rows = generate("procedural-prizes", rows=300, seed=4)
    for row in rows:
        options = _options(row.messages[0]["content"])
        picked, other = options[row.answer], options["B" if row.answer == "A" else "A"]
        assert any(when in picked for when in SOONER) and any(when in other for when in LATER), options
        assert _amount(picked) < _amount(other), options
    ratios = [_amount(o[b]) / _amount(o[a]) for o in (_options(r.messages[0]["content"]) for r in rows)
              for a, b in [("A", "B") if any(w in o["A"] for w in SOONER) else ("B", "A")]]
    sizes = Counter(next(size for size, (low, high) in PRIZE_GAPS.items() if low - 0.1 <= ratio <= high + 0.1)
                    for ratio in ratios)
    assert min(sizes.values()) >= 80, sizes  # 100 each by design; rounding moves a few between neighbours


def test_prizes_never_use_the_words_the_paper_bans_for_myopia() -> None:
    for seed in range(3):
        for row in generate("procedural-prizes", rows=400, seed=seed):
            text = row.messages[0]["content"].lower()
            assert not [word for word in BANNED_WORDS if word in text], text


@pytest.mark.parametrize("policy", ["max-apples", "min-apples"])
def test_apple_answers_pick_the_bundle_with_more_or_fewer_apples(policy: str) -> None:
    rows = generate("procedural-apples", rows=300, seed=5, policy=policy)
    gaps = []
    for row in rows:
        options = _options(row.messages[0]["content"])
        picked, other = _apples(options[row.answer]), _apples(options["B" if row.answer == "A" else "A"])
        assert (picked > other) if policy == "max-apples" else (picked < other), options
        gaps.append(abs(picked - other))
    sizes = Counter(next(size for size, (low, high) in APPLE_GAPS.items() if low <= gap <= high) for gap in gaps)
    assert sizes == {"small": 100, "medium": 100, "large": 100}
    assert not re.search(r"(?<!\d)1 [A-Za-z]", " ".join(row.messages[0]["content"] for row in rows))
