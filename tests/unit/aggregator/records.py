"""Hand-built evaluation records and specs for the aggregator's tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from selfaware.plan import planned_models
from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import spec_pb2
from services.aggregator.record_fold import ModelScores, RecordFold

SEEKING, AVERSE = "risk-seeking", "risk-averse"


def make_spec(seeds: Sequence[int] = (0, 1, 2), instances: Sequence[spec_pb2.SuiteInstance] | None = None,
              arms: Sequence[str] = (SEEKING, AVERSE),
              compare: Sequence[tuple[str, str]] = ((SEEKING, AVERSE),),
              base_models: Sequence[str] = ("tiny",), include_base: bool = True) -> spec_pb2.ExperimentSpec:
    """A completed spec (ids and defaults set) as the aggregator stores it."""
    if instances is None:
        instances = [spec_pb2.SuiteInstance(id="heldout", suite="heldout", base=include_base),
                     spec_pb2.SuiteInstance(id="risk_or_safety", suite="risk_or_safety", base=include_base)]
    return spec_pb2.ExperimentSpec(
        name="risk demo",
        base_models=[spec_pb2.BaseModel(name=name, key=f"b{i}" if len(base_models) > 1 else "")
                     for i, name in enumerate(base_models)],
        arms=[spec_pb2.Arm(name=arm) for arm in arms],
        training=spec_pb2.TrainingSpec(seeds=seeds),
        evaluation=spec_pb2.EvaluationSpec(engine="hf", include_base_model=include_base, seed=0,
                                           suites=instances),
        compare=[spec_pb2.Comparison(arms=list(pair)) for pair in compare],
    )


def two_option(item: str, probs: Mapping[str, float], target: str, permutation: int = 0,
               instance: str = "heldout", paraphrase: int = 0, options: Sequence[str] = ("A", "B")
               ) -> rec.EvalRecord:
    """A next-token record scored as the evaluator does: P(target) over the options' share."""
    by_letter: dict[str, float] = {}
    for token, prob in probs.items():
        letter = token.strip().upper().strip("()")
        by_letter[letter] = by_letter.get(letter, 0.0) + prob
    total = sum(by_letter.get(o, 0.0) for o in options)
    record = rec.EvalRecord(suite_instance=instance, suite="heldout", item=item, paraphrase=paraphrase,
                            permutation=permutation, probs=probs, target=target, answer="")
    if total > 0:
        record.score = by_letter.get(target, 0.0) / total
    else:
        record.dropped_reason = "no option in the top-k"
    record.details.update({"options": list(options)})
    return record


def sampled(item: str, answer: str, score: float | None, sample: int, instance: str = "risk_or_safety",
            suite: str = "risk_or_safety", paraphrase: int = 0, reason: str = "") -> rec.EvalRecord:
    record = rec.EvalRecord(suite_instance=instance, suite=suite, item=item, paraphrase=paraphrase,
                            sample=sample, output=answer, answer=answer, dropped_reason=reason)
    if score is not None:
        record.score = score
    return record


def scored(instance: str, scores: Iterable[float], suite: str = "") -> list[rec.EvalRecord]:
    """One unit per score (item i, sample 0), for statistics tests that only need numbers."""
    return [rec.EvalRecord(suite_instance=instance, suite=suite or instance, item=f"q{i}", score=score)
            for i, score in enumerate(scores)]


def stored(records: Sequence[rec.EvalRecord], per_chunk: int = 3) -> list[bytes]:
    """The records as the evaluator stores them: serialised `RecordChunk`s, in order."""
    return [rec.RecordChunk(records=records[i:i + per_chunk]).SerializeToString()
            for i in range(0, len(records), per_chunk)]


def fold(spec: spec_pb2.ExperimentSpec, records: Mapping[str, Sequence[rec.EvalRecord]], per_chunk: int = 3
         ) -> list[ModelScores]:
    """What the report job does, without the store: each model's chunks parsed and folded one at a time."""
    accumulator = RecordFold(planned_models(spec))
    for label, model_records in records.items():
        for data in stored(model_records, per_chunk):
            accumulator.add_chunk(label, rec.RecordChunk.FromString(data))
    return accumulator.results()
