"""Proto <-> evaluator domain conversions (the only evaluator module that knows both the spec and the domain)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from selfaware.errors import DataError
from selfaware.openai_endpoint import endpoint_settings
from selfaware.params import struct_to_dict
from selfaware.v1 import events_pb2 as ev
from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import spec_pb2
from services.evaluator.engines import Adapter
from services.evaluator.evaluation import JUDGE, EvalModel, InstancePlan
from services.evaluator.suites import SUITES, Judge, Sampler, SuiteContext

#: Media type of a stored `RecordChunk`.
CHUNK_MEDIA_TYPE = "application/x-protobuf"


def applies_to(instance: spec_pb2.SuiteInstance, model: rec.ModelUnderTest) -> bool:
    """Whether an instance runs on a model: base models when `base`, adapters when their arm is listed (or no
    arm is: then every arm)."""
    if not model.arm:
        return instance.base
    return not instance.arms or model.arm in instance.arms


def base_name(base: spec_pb2.BaseModel) -> str:
    return base.name or base.path


def model_hash(base: spec_pb2.BaseModel, adapter: rec.ArtifactRef | None, served_model: str = "") -> str:
    """A model's identity in its records: the adapter's sha256, "served:<model id>" for a hosted fine-tune, or
    "base:<base model name>"."""
    if adapter is not None and adapter.sha256:
        return adapter.sha256
    return f"served:{served_model}" if served_model else f"base:{base_name(base)}"


def eval_model(model: rec.ModelUnderTest, base: spec_pb2.BaseModel, adapter: Adapter | None) -> EvalModel:
    ref = model.adapter if model.HasField("adapter") else None
    return EvalModel(model.label, adapter, model_hash(base, ref, model.served_model), model.arm, model.seed)


def named_endpoints(instance: spec_pb2.SuiteInstance) -> dict[str, str]:
    """Endpoint parameter -> the endpoint it names, for the parameters of the instance's suite that name one
    (a `judge`, the Make Me Say `manipulatee`)."""
    if instance.suite not in SUITES:
        return {}
    params = struct_to_dict(instance.params)
    return {p.name: params[p.name] for p in SUITES.get(instance.suite)().params
            if p.type == "endpoint" and isinstance(params.get(p.name), str) and params[p.name]}


def suite_endpoints(spec: spec_pb2.ExperimentSpec) -> list[str]:
    """The endpoints named by suite instances' endpoint parameters, each once, in spec order."""
    names: list[str] = []
    for instance in spec.evaluation.suites:
        names += [name for name in named_endpoints(instance).values() if name not in names]
    return names


def instance_plans(spec: spec_pb2.ExperimentSpec, models: Sequence[rec.ModelUnderTest],
                   probes: Mapping[str, rec.ProbeSet], judges: Mapping[str, Judge] | None = None,
                   samplers: Mapping[str, Sampler] | None = None) -> tuple[InstancePlan, ...]:
    """The spec's suite instances with their contexts and the models (of `models`) each applies to; instances
    that apply to none of them are left out. `judges` and `samplers` are by endpoint name: a `judge` parameter
    gets the judge of its endpoint, and every endpoint parameter (`judge` too: a judge asked at T=1) the sampler."""
    plans = []
    for instance in spec.evaluation.suites:
        labels = tuple(m.label for m in models if applies_to(instance, m))
        if not labels:
            continue
        named = named_endpoints(instance)
        judge = (judges or {}).get(named.get(JUDGE, ""))
        sampling = {param: (samplers or {})[name] for param, name in named.items() if name in (samplers or {})}
        context = SuiteContext(instance.id or instance.suite, struct_to_dict(instance.params), dict(probes),
                               spec.evaluation.seed, judge, samplers=sampling)
        plans.append(InstancePlan(instance.suite, context, labels))
    return tuple(plans)


def endpoint_options(spec: spec_pb2.ExperimentSpec, name: str, base: spec_pb2.BaseModel | None = None
                     ) -> dict[str, Any]:
    """`build_engine("openai", ...)` options for the named endpoint; its model defaults to the base model's name."""
    endpoint = next((e for e in spec.endpoints if e.name == name), None)
    if endpoint is None:
        known = ", ".join(e.name for e in spec.endpoints) or "none"
        raise DataError(f"evaluation: no endpoint named {name!r}; the spec has: {known}")
    return endpoint_settings(endpoint) | {"model": endpoint.model or (base_name(base) if base is not None else "")}


def probe_arms(manifest: rec.DatasetManifest) -> list[tuple[str, rec.ArtifactRef]]:
    """(arm, probe ref) of every arm that has a stored probe, in manifest order."""
    return [(arm.arm, arm.probe) for arm in manifest.arms if arm.HasField("probe") and arm.probe.sha256]


def chunk_bytes(records: Sequence[rec.EvalRecord]) -> bytes:
    return rec.RecordChunk(records=records).SerializeToString(deterministic=True)


def chunk_records(data: bytes) -> list[rec.EvalRecord]:
    chunk = rec.RecordChunk()
    chunk.ParseFromString(data)
    return list(chunk.records)


def score_metrics(scores: Iterable[rec.SuiteScore]) -> dict[str, float]:
    """Instance scores flattened into a job's metrics map (`mean.<id>`, `n.<id>`, `dropped.<id>`)."""
    metrics: dict[str, float] = {}
    for s in scores:
        metrics |= {f"mean.{s.suite}": s.mean, f"n.{s.suite}": float(s.n), f"dropped.{s.suite}": float(s.dropped)}
    return metrics


def scores_from_metrics(metrics: Mapping[str, float], order: Sequence[str] = ()) -> list[rec.SuiteScore]:
    """The scores a job's metrics hold, in `order` (instance ids), then any others sorted."""
    present = {k.removeprefix("mean.") for k in metrics if k.startswith("mean.")}
    instances = [i for i in order if i in present] + sorted(present - set(order))
    return [rec.SuiteScore(suite=i, mean=metrics[f"mean.{i}"], n=int(metrics.get(f"n.{i}", 0)),
                           dropped=int(metrics.get(f"dropped.{i}", 0))) for i in instances]


def instance_order(spec: spec_pb2.ExperimentSpec) -> list[str]:
    return [i.id or i.suite for i in spec.evaluation.suites]


def evaluation_completed(experiment_id: str, spec: spec_pb2.ExperimentSpec, model: rec.ModelUnderTest,
                         job: rec.Job) -> ev.EvaluationCompleted:
    """The event announcing a model's finished evaluation, from its succeeded eval job."""
    return ev.EvaluationCompleted(experiment_id=experiment_id, model=model, chunks=job.chunks,
                                  scores=scores_from_metrics(dict(job.metrics), instance_order(spec)))
