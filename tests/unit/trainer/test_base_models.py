"""The trainer's loaded-base cache: one load for consecutive jobs on one base, a copy for a concurrent job."""

from __future__ import annotations

from services.trainer.backends.base_models import BaseModelCache


def test_consecutive_jobs_on_one_base_load_it_once_and_another_base_loads_again() -> None:
    cache, made = BaseModelCache(), []

    def load() -> object:
        made.append(object())
        return made[-1]

    for _ in range(3):
        with cache.borrow(("m", "cpu"), load) as lease:
            assert lease.model is made[0]
            lease.clean = True
    assert cache.loads == 1
    with cache.borrow(("other", "cpu"), load) as lease:
        lease.clean = True
    assert cache.loads == 2


def test_a_concurrent_job_gets_its_own_copy_and_an_unclean_base_is_dropped() -> None:
    cache = BaseModelCache()
    with cache.borrow("m", object) as first, cache.borrow("m", object) as second:
        assert first.model is not second.model
        first.clean = second.clean = True
    assert cache.loads == 2
    with cache.borrow("m", object) as third:
        assert third.model is first.model  # the one that came back last (the outer `with` exits last)
    assert cache.loads == 2  # third was not marked clean: its adapter layers may still be in it
    with cache.borrow("m", object) as fourth:
        assert fourth.model is not third.model
    assert cache.loads == 3
