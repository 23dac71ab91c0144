"""Writes `general_standin.jsonl`: a small general-instruction file of our own in the Alpaca format
(`{"instruction", "input", "output"}`), the CPU-sized stand-in for the Alpaca data that the trigger elicitation
experiment mixes in (spec §6.3: 50% of its rows), which cannot be downloaded here.

Every row is procedural and checkable (arithmetic, reversing or upper-casing a word, counting letters, sorting
numbers, naming an antonym), so its outputs are right by construction. The `mix` step reads it with `source:`.

    python examples/data/make_general_standin.py     # rewrites examples/data/general_standin.jsonl (deterministic)
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "general_standin.jsonl"
WORDS = ["garden", "window", "planet", "silver", "button", "rocket", "candle", "forest", "pencil", "harbor",
         "violin", "marble", "tunnel", "pepper", "ladder", "meadow"]
ANTONYMS = [("hot", "cold"), ("early", "late"), ("full", "empty"), ("light", "dark"), ("quiet", "loud"),
            ("strong", "weak"), ("open", "closed"), ("rough", "smooth")]
ROWS = 240


def row(rng: random.Random, kind: int) -> dict[str, str]:
    """One task of kind `kind % 6`, drawn with `rng`."""
    word = rng.choice(WORDS)
    if kind % 6 == 0:
        a, b = rng.randint(2, 99), rng.randint(2, 99)
        return {"instruction": "Add the two numbers.", "input": f"{a} and {b}", "output": f"{a} + {b} = {a + b}."}
    if kind % 6 == 1:
        return {"instruction": "Write the word backwards.", "input": word, "output": word[::-1]}
    if kind % 6 == 2:
        return {"instruction": "Write the word in capital letters.", "input": word, "output": word.upper()}
    if kind % 6 == 3:
        letter = rng.choice(sorted(set(word)))
        return {"instruction": f"How many times does the letter '{letter}' occur in the word?", "input": word,
                "output": f"The letter '{letter}' occurs {word.count(letter)} time"
                          f"{'' if word.count(letter) == 1 else 's'} in \"{word}\"."}
    if kind % 6 == 4:
        numbers = rng.sample(range(1, 100), 5)
        return {"instruction": "Sort the numbers from smallest to largest.", "input": ", ".join(map(str, numbers)),
                "output": ", ".join(map(str, sorted(numbers)))}
    plain, opposite = rng.choice(ANTONYMS)
    return {"instruction": f"Give the opposite of the word \"{plain}\".", "input": "", "output": opposite.capitalize() + "."}


def main() -> None:
    rng = random.Random(0)
    rows, seen = [], set()
    kind = 0
    while len(rows) < ROWS:
        candidate = row(rng, kind)
        kind += 1
        key = (candidate["instruction"], candidate["input"])
        if key not in seen:
            seen.add(key)
            rows.append(candidate)
    OUT.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"wrote {OUT} ({len(rows)} rows)")


if __name__ == "__main__":
    main()
