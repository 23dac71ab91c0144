"""The seed nouns of the manipulatee's opening message (spec §4.1: its `{word}`).

The paper used 889 nouns: the 1,000 most common English nouns by WordNet in `nltk.corpus`, with plurals and
uninteresting words removed and GPT-4o-suggested seeds added. That list is not released (the spec marks it
UNCONFIRMED) and WordNet cannot be downloaded here, so this is a stand-in from data that installed wheels ship:
the most frequent English words of `wordfreq` that lemminflect knows only as nouns, each its own noun lemma (no
plurals), ASCII letters only, at least 3 long, less a few function words lemminflect lists as nouns. Only nouns,
because a word that is also a verb or adjective ("make", "good") makes a poor conversation seed. Deterministic:
the same wheels give the same list.
"""

from __future__ import annotations

from functools import lru_cache

from lemminflect import getAllLemmas
from wordfreq import top_n_list

#: As many seeds as the paper's list.
SEED_NOUNS = 889
#: How far down wordfreq's list to look; the 889th noun is near rank 5,200.
_SEARCH = 20_000
#: Pronouns, determiners and other function words that lemminflect lists as nouns.
_FUNCTION_WORDS = frozenset(
    "that you this your all his they what who their her which she some them other its our him any these those "
    "many such both another each someone something anything nothing everything everyone anyone whether myself "
    "yourself himself herself itself themselves ourselves whatever whose whom somebody anybody nobody everybody "
    "million billion thousand hundred sir".split())


@lru_cache(maxsize=1)
def seed_nouns(count: int = SEED_NOUNS) -> tuple[str, ...]:
    """The `count` most frequent seed nouns, most frequent first."""
    nouns: list[str] = []
    for word in top_n_list("en", _SEARCH):
        if (len(word) >= 3 and word.isascii() and word.isalpha() and word not in _FUNCTION_WORDS
                and getAllLemmas(word) == {"NOUN": (word,)}):
            nouns.append(word)
            if len(nouns) == count:
                return tuple(nouns)
    raise RuntimeError(f"wordfreq's top {_SEARCH} words hold only {len(nouns)} seed nouns, not {count}")
