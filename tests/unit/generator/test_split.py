from __future__ import annotations

import pytest

from services.generator.split import split_indices


def test_split_is_deterministic_and_seed_dependent() -> None:
    assert split_indices(288, 20, seed=1) == split_indices(288, 20, seed=1)
    assert split_indices(288, 20, seed=1) != split_indices(288, 20, seed=2)


def test_split_sizes_disjointness_and_order() -> None:
    split = split_indices(288, 20, seed=5)
    assert len(split.train) == 268 and len(split.heldout) == 20
    assert sorted(split.train + split.heldout) == list(range(288))
    assert list(split.train) == sorted(split.train) and list(split.heldout) == sorted(split.heldout)


def test_nothing_held_out() -> None:
    assert split_indices(10, 0, seed=3).train == tuple(range(10))


@pytest.mark.parametrize(("available", "heldout"), [(10, 10), (10, 11), (10, -1)])
def test_impossible_splits_are_refused(available: int, heldout: int) -> None:
    with pytest.raises(ValueError, match="cannot hold out"):
        split_indices(available, heldout, seed=0)
