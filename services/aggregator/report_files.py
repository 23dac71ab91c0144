"""From folded scores to the report's three files: Markdown, JSON and PNG.

The JSON holds every number the Markdown shows (and more: per-permutation scores, every model's P(A)), with
stable keys, so tools read the JSON and people read the Markdown.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from selfaware.specs import spec_to_yaml
from selfaware.v1 import spec_pb2
from services.aggregator.bootstrap import (
    BATCH,
    CONFIDENCE_LEVEL,
    METHOD,
    N_RESAMPLES,
    RANDOM_STATE,
    ConfidenceInterval,
)
from services.aggregator.markdown import PNG_NAME, render_markdown
from services.aggregator.plot import render_png
from services.aggregator.record_fold import InstanceScores, ModelScores
from services.aggregator.statistics import (
    Comparison,
    GroupEstimate,
    InstanceStatistics,
    experiment_statistics,
    group_label,
)

log = structlog.get_logger(__name__)

#: Bumped when a key of the JSON report changes meaning or disappears.
SCHEMA_VERSION = 2


@dataclass(frozen=True)
class ReportFiles:
    markdown: str
    #: Every number of the report, with stable keys (see `report_document`).
    json: str
    #: The figure; the Markdown links it as `report.png`.
    png: bytes


def build_report(experiment_id: str, spec: spec_pb2.ExperimentSpec, models: Sequence[ModelScores]
                 ) -> ReportFiles:
    """Summarise every suite instance of `spec` (in spec order) over `models` and render the three files.

    Args:
        spec: The completed spec (ids, defaults filled): instances, arms, base models and comparisons.
        models: Every evaluated model in report order (`RecordFold.results`).
    """
    known = {instance.id for instance in spec.evaluation.suites}
    if outside := sorted({i for m in models for i in m.instances} - known):
        log.warning("records_outside_spec", instances=outside)
    stats = experiment_statistics(spec, models)
    document = report_document(experiment_id, spec, stats, models)
    markdown = render_markdown(experiment_id, spec, stats, models, spec_to_yaml(spec))
    png = render_png(spec, stats)
    log.info("report_built", experiment_id=experiment_id, instances=len(stats), models=len(models),
             png_bytes=len(png))
    return ReportFiles(markdown, json.dumps(document, indent=2, allow_nan=False) + "\n", png)


def report_document(experiment_id: str, spec: spec_pb2.ExperimentSpec, stats: Sequence[InstanceStatistics],
                    models: Sequence[ModelScores]) -> dict[str, Any]:
    """The JSON report as a dict; a number that could not be computed is null."""
    return {
        "schema_version": SCHEMA_VERSION,
        "experiment_id": experiment_id,
        "name": spec.name,
        "method": _method(),
        "png": PNG_NAME,
        "base_models": [{"index": i, "name": b.name, "key": b.key, "group": group_label(spec, i)}
                        for i, b in enumerate(spec.base_models)],
        "arms": [arm.name for arm in spec.arms],
        "compare": [list(pair.arms) for pair in spec.compare],
        "instances": [_instance_json(s) for s in stats],
        "models": [_model_json(spec, m, stats) for m in models],
    }


def _method() -> dict[str, Any]:
    return {
        "ci": f"scipy.stats.bootstrap, {METHOD} method",
        "confidence_level": CONFIDENCE_LEVEL,
        "n_resamples": N_RESAMPLES,
        "random_state": RANDOM_STATE,
        "batch": BATCH,
        "unit": "(item, paraphrase, sample), its permutations (option orders) averaged",
        "model_mean": "mean of the model's unit scores",
        "group_mean": "mean over the group's models of each model's instance mean",
        "ci_units": {
            "seeds": "per-seed (per-model) instance means of the group",
            "items": "unit scores of the group's single model (evaluation noise only)",
            "none": "too few values for an interval",
        },
        "difference_ci": "each group resampled independently in the units of its own interval",
        "p_a": "positional preference: mean over two-option records of P(A) / (P(A) + P(B)), letters from "
               "the top-k tokens (strip, upper-case, strip parentheses); records with neither letter skipped",
    }


def _instance_json(stats: InstanceStatistics) -> dict[str, Any]:
    return {
        "id": stats.instance,
        "suite": stats.suite,
        "title": stats.title,
        "two_option": stats.two_option,
        "base_p_a": stats.base_p_first,
        "groups": [_group_json(g) for g in stats.groups],
        "comparisons": [_comparison_json(c) for c in stats.comparisons],
    }


def _group_json(group: GroupEstimate) -> dict[str, Any]:
    return {
        "label": group.label,
        "base_index": group.base_index,
        "arm": group.arm,
        "is_base": group.is_base,
        "mean": group.mean,
        **_interval(group.ci),
        "ci_unit": group.ci_unit,
        "n_models": group.n_models,
        "n_units": group.n_units,
        "models": list(group.models),
        "base_p_a": group.base_p_first,
    }


def _comparison_json(comparison: Comparison) -> dict[str, Any]:
    return {
        "kind": comparison.kind,
        "minuend": comparison.minuend,
        "subtrahend": comparison.subtrahend,
        "difference": comparison.difference,
        **_interval(comparison.ci),
        "excludes_zero": comparison.excludes_zero,
        "cis_separated": comparison.cis_separated,
    }


def _interval(ci: ConfidenceInterval | None) -> dict[str, float | None]:
    return {"ci_low": ci.low if ci else None, "ci_high": ci.high if ci else None}


def _model_json(spec: spec_pb2.ExperimentSpec, model: ModelScores, stats: Sequence[InstanceStatistics]
                ) -> dict[str, Any]:
    base = spec.base_models[model.base_index].name if model.base_index < len(spec.base_models) else ""
    instances = {}
    for instance in stats:
        scores = model.instances.get(instance.instance)
        if scores is not None:
            base_p = instance.base_p_first.get(group_label(spec, model.base_index))
            instances[instance.instance] = _scores_json(scores, base_p)
    return {"label": model.label, "base_index": model.base_index, "base_model": base, "arm": model.arm,
            "seed": model.seed, "is_base": model.is_base, "instances": instances}


def _scores_json(scores: InstanceScores, base_p_first: float | None) -> dict[str, Any]:
    return {
        "mean": scores.mean,
        "n_units": scores.n_units,
        "n_records": scores.n_records,
        "n_scored": scores.n_scored,
        "n_dropped": scores.n_dropped,
        "dropped": scores.dropped,
        "permutations": {str(p): {"mean": s.mean, "n": s.n} for p, s in scores.permutations.items()},
        "p_a": scores.p_first,
        "n_p_a": scores.n_positional,
        "base_p_a": base_p_first if scores.two_option else None,
        "top_answers": [{"answer": text, "count": count} for text, count in scores.top_answers],
        "untracked_answers": scores.untracked_answers,
    }
