from services.evaluator.engines import Adapter
from services.evaluator.engines.lora_guard import split_base_from_adapters

A = Adapter("a", "/a")
B = Adapter("b", "/b")


def test_base_and_adapter_requests_never_share_a_group():
    assert split_base_from_adapters([None, A, None, B, A]) == [[0, 2], [1, 3, 4]]


def test_single_kind_batches_stay_whole():
    assert split_base_from_adapters([A, B, A]) == [[0, 1, 2]]
    assert split_base_from_adapters([None, None]) == [[0, 1]]
    assert split_base_from_adapters([]) == []


def test_without_the_guard_everything_is_one_batch():
    assert split_base_from_adapters([None, A, None], guard=False) == [[0, 1, 2]]
