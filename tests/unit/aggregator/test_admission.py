"""Fair sharing of the sweep slots: priority first, then the sweep with the fewest running, then the oldest."""

from __future__ import annotations

from services.aggregator.admission import SweepLoad, admit


def load(sweep_id: str, cells: int, *, running: int = 0, priority: int = 0, max_running: int = 0,
         created_at: int = 0) -> SweepLoad:
    return SweepLoad(sweep_id, priority, max_running, created_at, running,
                     tuple(f"{sweep_id}-{i}" for i in range(cells)))


def test_a_small_sweep_takes_turns_with_a_big_one_that_came_first() -> None:
    big, small = load("big", 20, created_at=1), load("small", 2, created_at=2)
    assert admit([big, small], slots=4) == ["big-0", "small-0", "big-1", "small-1"]


def test_a_big_sweep_already_running_leaves_the_free_slot_to_the_small_one() -> None:
    big = load("big", 20, running=3, created_at=1)
    assert admit([big, load("small", 2, created_at=2)], slots=4) == ["small-0"]


def test_no_slot_free_admits_nothing() -> None:
    assert admit([load("big", 20, running=4), load("small", 2)], slots=4) == []


def test_higher_priority_takes_every_slot_it_can_use() -> None:
    low, high = load("low", 5, created_at=1), load("high", 5, priority=1, created_at=2)
    assert admit([low, high], slots=3) == ["high-0", "high-1", "high-2"]


def test_max_running_caps_a_sweep_and_the_rest_go_to_the_others() -> None:
    capped = load("capped", 5, priority=1, max_running=1)
    assert admit([capped, load("other", 5, created_at=1)], slots=3) == ["capped-0", "other-0", "other-1"]
    assert admit([load("capped", 5, running=1, max_running=1)], slots=3) == []


def test_the_oldest_breaks_ties_and_cells_go_in_order() -> None:
    assert admit([load("newer", 2, created_at=5), load("older", 2, created_at=3)], slots=1) == ["older-0"]
    assert admit([load("only", 3)], slots=2) == ["only-0", "only-1"]


def test_an_empty_sweep_is_skipped() -> None:
    assert admit([load("done", 0, running=1), load("next", 1, created_at=9)], slots=2) == ["next-0"]


def test_a_cell_that_does_not_fit_its_owners_quota_blocks_its_sweep_and_the_slot_goes_on() -> None:
    asked: list[str] = []

    def fits(experiment_id: str) -> bool:
        asked.append(experiment_id)
        return not experiment_id.startswith("full")

    full, other = load("full", 3, priority=1), load("other", 3)
    assert admit([full, other], slots=2, fits=fits) == ["other-0", "other-1"]
    assert asked == ["full-0", "other-0", "other-1"]  # the blocked sweep is asked once, its next cells never
