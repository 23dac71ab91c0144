"""Proto <-> evaluator domain conversions (the only evaluator module that knows both)."""

from __future__ import annotations

import json

from selfaware.probes import ProbeItem
from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import spec_pb2
from services.evaluator.evaluation import EvaluationPlan, EvaluationResult


def evaluation_plan(spec: spec_pb2.ExperimentSpec, probe: list[ProbeItem]) -> EvaluationPlan:
    e = spec.evaluation
    return EvaluationPlan(
        suites=tuple(e.suites),
        samples_per_paraphrase=e.samples_per_paraphrase,
        temperature=e.temperature,
        lottery_pairs=e.lottery_pairs,
        questions_uri=e.questions_uri,
        seed=e.seed,
        probe=tuple(probe),
    )


def records_jsonl(result: EvaluationResult) -> bytes:
    return "".join(json.dumps(r, sort_keys=True) + "\n" for r in result.records).encode()


def suite_scores(result: EvaluationResult) -> list[rec.SuiteScore]:
    return [rec.SuiteScore(suite=s.suite, mean=s.mean, n=s.n, dropped=s.dropped) for s in result.scores]


def score_metrics(scores: list[rec.SuiteScore]) -> dict[str, float]:
    """Suite scores flattened into a job's metrics map (`mean.<suite>`, `n.<suite>`, `dropped.<suite>`)."""
    metrics: dict[str, float] = {}
    for s in scores:
        metrics |= {f"mean.{s.suite}": s.mean, f"n.{s.suite}": float(s.n), f"dropped.{s.suite}": float(s.dropped)}
    return metrics


def scores_from_metrics(metrics: dict[str, float]) -> list[rec.SuiteScore]:
    suites = sorted(k.removeprefix("mean.") for k in metrics if k.startswith("mean."))
    return [rec.SuiteScore(suite=s, mean=metrics[f"mean.{s}"], n=int(metrics.get(f"n.{s}", 0)),
                           dropped=int(metrics.get(f"dropped.{s}", 0))) for s in suites]
