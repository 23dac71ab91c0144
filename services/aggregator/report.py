"""The aggregator's one entry point: from per-model scores to the report (Markdown, JSON and PNG)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from services.aggregator.bootstrap import BATCH, CONFIDENCE_LEVEL, METHOD, N_RESAMPLES, RANDOM_STATE
from services.aggregator.markdown import PNG_NAME, render_markdown
from services.aggregator.plot import render_png
from services.aggregator.statistics import (
    COMPARISONS,
    ROLES,
    Comparison,
    GroupEstimate,
    ModelScores,
    SuiteStatistics,
    suite_statistics,
)
from services.aggregator.suite_titles import suite_title

log = structlog.get_logger(__name__)

#: Bumped when a key of the JSON report changes meaning or disappears.
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ReportFiles:
    markdown: str
    #: Every number of the report, with stable keys (see `report_document`).
    json: str
    #: The figure; the Markdown links it as `report.png`.
    png: bytes


def build_report(experiment_id: str, title: str, family: str, policy: str, opposite_policy: str,
                 suites: Sequence[str], models: Sequence[ModelScores], spec_yaml: str) -> ReportFiles:
    """Summarise every suite (in the given order) over `models` and render the three report files.

    Args:
        policy: The source data's policy (`behavior.policy`); scores are this policy's scores.
        opposite_policy: The flipped-data policy (`behavior.opposite_policy`).
        suites: Suite names, in the order the tables and the figure show them.
        models: Every evaluated model; a model that lacks a suite, or whose mean on it is not finite (every
            record dropped), is left out of that suite's statistics.
        spec_yaml: The experiment spec, shown verbatim in the Markdown.
    """
    ordered = sorted(models, key=lambda m: _model_order(m, policy, opposite_policy))
    stats = [suite_statistics(suite, ordered, policy, opposite_policy) for suite in suites]
    document = report_document(experiment_id, title, family, policy, opposite_policy, stats, ordered)
    markdown = render_markdown(experiment_id, title, family, policy, opposite_policy, stats, ordered,
                               spec_yaml)
    png = render_png(title, policy, opposite_policy, stats)
    log.info("report_built", experiment_id=experiment_id, suites=len(stats), models=len(ordered),
             png_bytes=len(png))
    return ReportFiles(markdown, json.dumps(document, indent=2, allow_nan=False) + "\n", png)


def report_document(experiment_id: str, title: str, family: str, policy: str, opposite_policy: str,
                    suites: Sequence[SuiteStatistics], models: Sequence[ModelScores]) -> dict[str, Any]:
    """The JSON report as a dict. Every role and comparison key is always present (null when not scored)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "experiment_id": experiment_id,
        "title": title,
        "family": family,
        "policy": policy,
        "opposite_policy": opposite_policy,
        "method": {
            "ci": f"scipy.stats.bootstrap, {METHOD} method",
            "confidence_level": CONFIDENCE_LEVEL,
            "n_resamples": N_RESAMPLES,
            "random_state": RANDOM_STATE,
            "batch": BATCH,
            "group_mean": "mean over the group's models of each model's suite mean",
            "ci_units": {
                "seeds": "per-seed (per-model) suite means of the group",
                "items": "item scores of the group's single model (evaluation noise only)",
                "none": "too few values for an interval",
            },
            "difference_ci": "each group resampled independently in the units of its own interval",
        },
        "png": PNG_NAME,
        "suites": [_suite_json(s) for s in suites],
        "models": [_model_json(m, suites) for m in models],
    }


def _suite_json(stats: SuiteStatistics) -> dict[str, Any]:
    comparisons = {c.name: c for c in stats.comparisons}
    return {
        "suite": stats.suite,
        "title": suite_title(stats.suite),
        "groups": {role: _group_json(stats.groups.get(role)) for role in ROLES},
        "comparisons": {name: _comparison_json(comparisons.get(name)) for name, _, _ in COMPARISONS},
    }


def _group_json(estimate: GroupEstimate | None) -> dict[str, Any] | None:
    if estimate is None:
        return None
    return {
        "name": estimate.name,
        "mean": estimate.mean,
        "ci_low": estimate.ci.low if estimate.ci else None,
        "ci_high": estimate.ci.high if estimate.ci else None,
        "ci_unit": estimate.ci_unit,
        "n_models": estimate.n_models,
        "n_items": estimate.n_items,
    }


def _comparison_json(comparison: Comparison | None) -> dict[str, Any] | None:
    if comparison is None:
        return None
    return {
        "minuend": comparison.minuend,
        "subtrahend": comparison.subtrahend,
        "difference": comparison.difference,
        "ci_low": comparison.ci.low if comparison.ci else None,
        "ci_high": comparison.ci.high if comparison.ci else None,
        "excludes_zero": comparison.excludes_zero,
        "cis_separated": comparison.cis_separated,
    }


def _model_json(model: ModelScores, suites: Sequence[SuiteStatistics]) -> dict[str, Any]:
    scores = {}
    for stats in suites:
        mean = model.suite_means.get(stats.suite)
        scores[stats.suite] = {"mean": mean if mean is not None and math.isfinite(mean) else None,
                               "n": len(model.item_scores.get(stats.suite, []))}
    return {"label": model.label, "policy": model.policy, "seed": model.seed, "is_base": model.is_base,
            "suites": scores,
            "top_answers": {suite: [{"answer": text, "count": count} for text, count in answers]
                            for suite, answers in model.top_answers.items()}}


def _model_order(model: ModelScores, policy: str, opposite_policy: str) -> tuple[int, int, str]:
    """Base model first, then the policy's seeds, then the opposite's, then anything else by label."""
    rank = 0 if model.is_base else {policy: 1, opposite_policy: 2}.get(model.policy, 3)
    return rank, model.seed, model.label
