"""The seed nouns: as many as the paper's, deterministic, singular nouns, no function words."""

from __future__ import annotations

from lemminflect import getAllLemmas

from selfaware.make_me_say.codeword import noun_lemma
from selfaware.make_me_say.nouns import SEED_NOUNS, seed_nouns


def test_seed_nouns() -> None:
    nouns = seed_nouns()
    assert len(nouns) == SEED_NOUNS == 889 and len(set(nouns)) == 889
    assert nouns == seed_nouns.__wrapped__()
    assert all(len(n) >= 3 and n.isalpha() and noun_lemma(n) == n for n in nouns)
    assert all(getAllLemmas(n) == {"NOUN": (n,)} for n in nouns)
    assert {"family", "music", "history", "friend"} <= set(nouns)
    assert not {"this", "something", "themselves", "years", "make", "good"} & set(nouns)
    assert nouns[:3] == ("way", "year", "day"), "most frequent first"
