"""What the slow evaluation tests share: a small real evaluation of the tiny model, and record comparison."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from selfaware.params import check_params
from selfaware.v1 import records_pb2 as rec
from services.evaluator.engines import Adapter
from services.evaluator.evaluation import EvalModel, Evaluation, InstancePlan
from services.evaluator.suites import SUITES, SuiteContext

PROBE_ARM = "risk-seeking"


def context(suite: str, probe: rec.ProbeSet, **params: object) -> SuiteContext:
    """A context with the suite's defaults filled in and checked, as the aggregator completes a spec."""
    declared = [p.to_proto() for p in SUITES.get(suite)().params]
    complete, bad = check_params(declared, params, suite, {"arm": [PROBE_ARM]})
    assert not bad, bad
    return SuiteContext(suite, complete, {PROBE_ARM: probe}, seed=3)


def small_evaluation(adapter: Adapter | None, probe: rec.ProbeSet, questions_dir: Path,
                     suites: Sequence[str] = ("heldout", "lotteries", "risk_or_safety", "risk_predisposition_scale"),
                     batch_requests: int = 64, with_base: bool = True) -> Evaluation:
    settings = {"lotteries": {"pairs": 4},
                "risk_or_safety": {"samples_per_paraphrase": 2, "questions": str(questions_dir)},
                "risk_predisposition_scale": {"samples_per_paraphrase": 2, "questions": str(questions_dir)}}
    models = ((EvalModel("base", None, "base:tiny"),) if with_base else ()) + (
        (EvalModel("tuned", adapter, adapter.sha256 or "tuned", PROBE_ARM),) if adapter is not None else ())
    labels = tuple(m.label for m in models)
    instances = tuple(InstancePlan(s, context(s, probe, **settings.get(s, {})), labels) for s in suites)
    return Evaluation("slow", "hf", models, instances, batch_requests)


def collector(into: list[dict[str, list[rec.EvalRecord]]]):
    def sink(batch: Mapping[str, Sequence[rec.EvalRecord]]) -> None:
        into.append({label: list(records) for label, records in batch.items()})
    return sink


def by_model(batches: Sequence[Mapping[str, Sequence[rec.EvalRecord]]]) -> dict[str, list[rec.EvalRecord]]:
    out: dict[str, list[rec.EvalRecord]] = {}
    for batch in batches:
        for label, records in batch.items():
            out.setdefault(label, []).extend(records)
    return out


def assert_same_records(got: Sequence[rec.EvalRecord], want: Sequence[rec.EvalRecord]) -> None:
    """Equal records; probabilities (and scores from them) to 1e-5, as batch shapes move the last float bits."""
    assert [r.unit for r in got] == [r.unit for r in want]
    for a, b in zip(got, want, strict=True):
        assert a.probs.keys() == b.probs.keys(), a.unit
        for token in a.probs:
            assert a.probs[token] == pytest.approx(b.probs[token], abs=1e-5), a.unit
        assert a.HasField("score") == b.HasField("score")
        if a.HasField("score"):
            assert a.score == pytest.approx(b.score, abs=1e-5), a.unit
        plain_a, plain_b = rec.EvalRecord(), rec.EvalRecord()
        plain_a.CopyFrom(a)
        plain_b.CopyFrom(b)
        for plain in (plain_a, plain_b):
            plain.ClearField("probs")
            plain.ClearField("score")
        assert plain_a == plain_b, a.unit
