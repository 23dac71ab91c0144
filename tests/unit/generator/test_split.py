from __future__ import annotations

import pytest

from selfaware.errors import SpecError
from services.generator.split import split_indices


def test_split_is_deterministic_and_seed_dependent() -> None:
    assert split_indices(288, 100, 20, seed=1) == split_indices(288, 100, 20, seed=1)
    assert split_indices(288, 100, 20, seed=1) != split_indices(288, 100, 20, seed=2)


def test_split_sizes_disjointness_and_order() -> None:
    split = split_indices(288, 100, 20, seed=5)
    assert len(split.train) == 80 and len(split.heldout) == 20
    assert not set(split.train) & set(split.heldout)
    assert list(split.train) == sorted(split.train) and list(split.heldout) == sorted(split.heldout)
    assert all(0 <= i < 288 for i in split.train + split.heldout)


def test_size_zero_uses_every_row() -> None:
    split = split_indices(10, 0, 3, seed=0)
    assert sorted(split.train + split.heldout) == list(range(10))


@pytest.mark.parametrize(("available", "size", "heldout", "field"), [
    (288, 300, 10, "dataset.size"),
    (288, 50, 50, "dataset.heldout"),
    (10, 0, 10, "dataset.heldout"),
])
def test_bad_sizes_name_the_field(available: int, size: int, heldout: int, field: str) -> None:
    with pytest.raises(SpecError) as caught:
        split_indices(available, size, heldout, seed=0)
    assert [v.field for v in caught.value.violations] == [field]
