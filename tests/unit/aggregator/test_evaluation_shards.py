"""Which evaluation shards the aggregator requests, given an experiment's jobs, and with how many adapters each."""

from __future__ import annotations

from selfaware.plan import DATASET_JOB, DEFAULT_MAX_LORAS, eval_job, plan_jobs, train_job
from selfaware.v1 import catalogue_pb2 as cat
from selfaware.v1 import records_pb2 as rec
from services.aggregator.evaluation_shards import ready_requests, shard_capacity
from tests.unit.aggregator.records import make_spec

DONE = rec.JOB_STATUS_SUCCEEDED


def jobs_of(spec, trained=(), evaluated=(), dataset=True) -> dict[str, rec.Job]:  # type: ignore[no-untyped-def]
    """The planned jobs, with the dataset, the given trainings (adapter sha = label) and evaluations done."""
    jobs = {j.key: j for j in plan_jobs("e1", spec)}
    if dataset:
        jobs[DATASET_JOB].status = DONE
    for label in trained:
        jobs[train_job(label)].status = DONE
        jobs[train_job(label)].artifact.sha256 = label
    for label in evaluated:
        jobs[eval_job(label)].status = DONE
    return jobs


def layout(requests) -> list[tuple[str, list[str]]]:  # type: ignore[no-untyped-def]
    return [(r.shard_id, [m.label for m in r.models]) for r in requests]


def test_a_shard_is_requested_once_every_adapter_in_it_is_trained() -> None:
    spec = make_spec(seeds=(0, 1, 2))  # 6 adapters: shards of 4 (+ base) and 2 with max_loras 4
    first = ["risk-seeking/s0", "risk-seeking/s1", "risk-seeking/s2", "risk-averse/s0"]
    assert ready_requests("e1", spec, jobs_of(spec, trained=first[:3]), 4) == []
    ready = ready_requests("e1", spec, jobs_of(spec, trained=first), 4)
    assert layout(ready) == [("0.0", ["base", *first])]
    everything = ready_requests("e1", spec, jobs_of(spec, trained=[*first, "risk-averse/s1", "risk-averse/s2"]), 4)
    assert layout(everything) == [("0.0", ["base", *first]), ("0.1", ["risk-averse/s1", "risk-averse/s2"])]


def test_the_request_carries_each_adapter_and_the_base_model_bare() -> None:
    spec = make_spec(seeds=(0,))
    [request] = ready_requests("e1", spec, jobs_of(spec, trained=["risk-seeking/s0", "risk-averse/s0"]), 4)
    assert request.experiment_id == "e1"
    assert [(m.label, m.adapter.sha256) for m in request.models] == [
        ("base", ""), ("risk-seeking/s0", "risk-seeking/s0"), ("risk-averse/s0", "risk-averse/s0")]


def test_a_shard_whose_evaluations_are_over_is_not_requested_again() -> None:
    spec = make_spec(seeds=(0,))
    trained = ["risk-seeking/s0", "risk-averse/s0"]
    assert ready_requests("e1", spec, jobs_of(spec, trained, evaluated=["base", *trained]), 4) == []
    [partly] = ready_requests("e1", spec, jobs_of(spec, trained, evaluated=["base"]), 4)
    assert len(partly.models) == 3  # the evaluator skips the finished model and re-announces it


def test_nothing_is_requested_before_the_dataset_is_in() -> None:
    spec = make_spec(seeds=(0,), arms=())
    assert ready_requests("e1", spec, jobs_of(spec, dataset=False), 4) == []
    assert layout(ready_requests("e1", spec, jobs_of(spec), 4)) == [("0.0", ["base"])]  # no adapter to wait for


def test_several_base_models_are_requested_apart() -> None:
    spec = make_spec(seeds=(0,), arms=("risk-seeking",), base_models=("m0", "m1"))
    jobs = jobs_of(spec, trained=["b1/risk-seeking/s0"])
    assert layout(ready_requests("e1", spec, jobs, 4)) == [("1.0", ["b1/base", "b1/risk-seeking/s0"])]


def engine(name: str, **info: str) -> cat.Capability:
    return cat.Capability(kind="engine", name=name, info=info)


def test_the_capacity_is_what_the_evaluator_publishes_for_the_spec_engine() -> None:
    published = [cat.Catalogue(service="generator"),
                 cat.Catalogue(service="evaluator", capabilities=[engine("hf", max_loras="2"),
                                                                  engine("vllm", max_loras="8")])]
    assert shard_capacity(published, "vllm") == 8
    assert shard_capacity(published, "hf") == 2
    assert shard_capacity(published, "openai") == DEFAULT_MAX_LORAS  # not offered: the default
    assert shard_capacity([cat.Catalogue(capabilities=[engine("vllm")])], "vllm") == DEFAULT_MAX_LORAS


def test_the_reconciler_re_sends_only_the_shards_no_evaluator_has_taken() -> None:
    spec = make_spec(seeds=(0,))
    trained = ["risk-seeking/s0", "risk-averse/s0"]
    jobs = jobs_of(spec, trained)
    assert layout(ready_requests("e1", spec, jobs, 4, unstarted_only=True)) == [("0.0", ["base", *trained])]
    jobs[eval_job("risk-averse/s0")].owner = "evaluator-host/12/ab"  # an evaluator holds (or held) its lease
    assert ready_requests("e1", spec, jobs, 4, unstarted_only=True) == []
    assert len(ready_requests("e1", spec, jobs, 4)) == 1  # the event-driven path still sees it as unfinished
