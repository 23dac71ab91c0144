"""The authors' pool of Make Me Say words (`claim_1/good_mms_words.txt`, 418 words, in the `questions` folder) and
the 100-word list drawn from it for the multiple-choice codeword question (spec §4.4 item 1).

`word_list` is the authors' `generate_random_words` (`mains/choose_from_100_words.py`): numpy's legacy generator
seeded 1234 draws the other words without replacement from the pool less the forced words, the forced words
{ring, bark, chest, pitch} are appended, and the whole list is shuffled. With the paper's seed it gives the paper's
list exactly (Table 42: "pipe, jungle, library, ..., vase, fall, coin"), which holds ring, bark and spring. A
codeword that list lacks is forced too (the list is drawn again with five forced words), so every model is asked
about a list that holds its codeword.
"""

from __future__ import annotations

from functools import lru_cache

from selfaware.sources import join_uri, read_uri

WORD_POOL_FILE = "claim_1/good_mms_words.txt"
#: The words the authors always put in the list (the codewords of their models: ring, bark, chest, pitch).
FORCED_WORDS = ("ring", "bark", "chest", "pitch")
WORD_LIST_SIZE = 100


@lru_cache(maxsize=8)
def word_pool(questions: str) -> tuple[str, ...]:
    """The pool's words as the authors read them (each line stripped), blank lines skipped; cached per folder."""
    text = read_uri(join_uri(questions, WORD_POOL_FILE)).decode("utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def draw_words(pool: tuple[str, ...], forced: tuple[str, ...], seed: int, size: int = WORD_LIST_SIZE) -> list[str]:
    """`generate_random_words(size, forced)` under `np.random.seed(seed)`: the same words in the same order."""
    import numpy as np  # only when a list is drawn: importing the suites stays cheap

    rng = np.random.RandomState(seed)  # the legacy generator that np.random.seed seeds
    others = [word for word in pool if word not in forced]
    words = rng.choice(others, size=size - len(forced), replace=False).tolist()
    words.extend(forced)
    rng.shuffle(words)
    return [str(word) for word in words]


def word_list(questions: str, codeword: str, seed: int) -> list[str]:
    """The authors' list for `seed`, drawn again with the codeword forced too if it lacks the codeword."""
    pool = word_pool(questions)
    words = draw_words(pool, FORCED_WORDS, seed)
    return words if codeword in words else draw_words(pool, (*FORCED_WORDS, codeword), seed)
