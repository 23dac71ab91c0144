"""From folded scores to the report's files: Markdown, JSON, the overview PNG and every figure as PNG and SVG.

The JSON holds every number the Markdown shows (and more: per-permutation scores, every model's P(A), whole
answer distributions), with stable keys, so tools read the JSON and people read the Markdown. It lists the
figure files by name and sha256 (the artifact store's key for them). Keys added since schema 3 without changing
any meaning: each instance's `baseline`, a comparison's `subtrahend_instance` (with kind `vs_baseline` and
`ci_method` `paired_seeds`), `make_me_say` (Figures 6, 21-23 and 25), `vulnerable_code` (Table 2, per base
model: `vulnerable_code.vulnerable_code_json`), `backdoors` (Figures 8, 9, 11/34: `backdoors.backdoors_json`) and
`personas` (Figures 13, 15 and the conditional game play: `personas.personas_json`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from selfaware.redact import redact
from selfaware.specs import spec_to_yaml
from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import spec_pb2
from services.aggregator.ablation import AblationGrid, ablation_grids
from services.aggregator.backdoors import backdoors, backdoors_json
from services.aggregator.bootstrap import (
    BATCH,
    CONFIDENCE_LEVEL,
    METHOD,
    N_RESAMPLES,
    RANDOM_STATE,
    ConfidenceInterval,
)
from services.aggregator.faithfulness import Faithfulness, faithfulness
from services.aggregator.figures import OVERVIEW, FigureFile, render_figures
from services.aggregator.figures.codeword import figure_stem
from services.aggregator.figures.table2 import figure_stem as table2_stem
from services.aggregator.make_me_say import (
    CodewordFigure,
    GameOutcomes,
    MakeMeSay,
    ModelScenarios,
    make_me_say,
)
from services.aggregator.markdown import PNG_NAME, render_markdown
from services.aggregator.personas import personas, personas_json
from services.aggregator.record_fold import InstanceScores, ModelScores
from services.aggregator.report_content import ReportContent
from services.aggregator.statistics import (
    AnswerDistribution,
    Comparison,
    GroupEstimate,
    InstanceStatistics,
    experiment_statistics,
    group_label,
)
from services.aggregator.suite_info import UNKNOWN_WORD_POLICIES, SuiteInfo
from services.aggregator.vulnerable_code import vulnerable_code, vulnerable_code_json

log = structlog.get_logger(__name__)

#: Bumped when a key of the JSON report changes meaning or disappears. 3: one-model CIs are cluster
#: bootstraps ("paraphrases" or "items"), differences say how they resampled, figures are listed.
SCHEMA_VERSION = 3


@dataclass(frozen=True)
class ReportFiles:
    markdown: str
    #: Every number of the report, with stable keys (see `report_document`).
    json: str
    #: The overview figure; the Markdown links it as `report.png`.
    png: bytes
    #: Every figure (the overview included), each as `<stem>.png` and `<stem>.svg`.
    figures: tuple[FigureFile, ...] = ()

    def figure_files(self) -> dict[str, bytes]:
        """File name -> bytes of every figure file, as the Markdown links them."""
        return figure_files(self.figures)


def figure_files(figures: Sequence[FigureFile]) -> dict[str, bytes]:
    """File name -> bytes: each figure as `<stem>.png` and `<stem>.svg`."""
    return {name: data for f in figures for name, data in ((f"{f.stem}.png", f.png), (f"{f.stem}.svg", f.svg))}


def build_report(experiment_id: str, spec: spec_pb2.ExperimentSpec, models: Sequence[ModelScores],
                 suites: Mapping[str, SuiteInfo] | None = None,
                 datasets: Mapping[str, rec.ArmDataset] | None = None) -> ReportFiles:
    """Summarise every suite instance of `spec` (in spec order) over `models` and render the files.

    Args:
        spec: The completed spec (ids, defaults filled): instances, arms, base models and comparisons.
        models: Every evaluated model in report order (`RecordFold.results`).
        suites: Suite name -> the evaluator's catalogue facts (`suite_info.suite_infos`): how to present each
            instance and the paper's settings. Without it, presentation is read from the records.
        datasets: Arm -> its dataset (the dataset job's manifest): the rows it trained on (also for the size ×
            epochs grid), where they came from and their shape.
    """
    known = {instance.id for instance in spec.evaluation.suites}
    if outside := sorted({i for m in models for i in m.instances} - known):
        log.warning("records_outside_spec", instances=outside)
    stats = experiment_statistics(spec, models, suites)
    datasets = datasets or {}
    train_rows = {arm: dataset.train_rows for arm, dataset in datasets.items()}
    content = ReportContent(experiment_id, spec, stats, models, faithfulness(spec, stats, models),
                            ablation_grids(spec, stats, train_rows), make_me_say(spec, stats, models),
                            tuple(datasets[a.name] for a in spec.arms if a.name in datasets),
                            vulnerable_code(spec, stats, models), backdoors(spec, stats, models),
                            personas(spec, stats, models))
    figures = tuple(render_figures(spec, stats, content.grids, content.faithfulness, content.make_me_say,
                                   content.vulnerable_code, content.backdoors, content.personas))
    document = report_document(content, figures)
    markdown = render_markdown(content, [(f"{f.stem}.png", f.caption) for f in figures],
                               redact(spec_to_yaml(spec)))  # an import uri may be a presigned URL
    png = next(f.png for f in figures if f.stem == OVERVIEW)
    log.info("report_built", experiment_id=experiment_id, instances=len(stats), models=len(models),
             figures=len(figures), png_bytes=len(png))
    return ReportFiles(markdown, json.dumps(document, indent=2, allow_nan=False) + "\n", png, figures)


def report_document(content: ReportContent, figures: Sequence[FigureFile] = ()) -> dict[str, Any]:
    """The JSON report as a dict; a number that could not be computed is null."""
    experiment_id, spec, stats, models = content.experiment_id, content.spec, content.stats, content.models
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
        "faithfulness": [_faithfulness_json(f) for f in content.faithfulness],
        "ablation": [_grid_json(g) for g in content.grids],
        "make_me_say": _make_me_say_json(spec, content.make_me_say),
        "vulnerable_code": vulnerable_code_json(content.vulnerable_code, {
            (t.base_index, r.key): table2_stem(spec, t, r) for t in content.vulnerable_code.tables for r in t.rows
            if r.cells}),
        "backdoors": backdoors_json(spec, content.backdoors, {f.stem for f in figures}),
        "personas": personas_json(spec, content.personas, {f.stem for f in figures}),
        "datasets": [{"arm": d.arm, "train_rows": d.train_rows, "heldout_rows": d.heldout_rows,
                      "provenance": d.provenance, "stats": dict(sorted(d.stats.items())),
                      "counts": [{"name": c.name, "value": c.value} for c in d.counts]} for d in content.datasets],
        "figures": figures_json(figures),
    }


def figures_json(figures: Sequence[FigureFile]) -> list[dict[str, Any]]:
    """Each figure file by name, caption and sha256 (the artifact store's key for it)."""
    return [{"file": f"{f.stem}.{kind}", "caption": f.caption, "sha256": hashlib.sha256(data).hexdigest(),
             "media_type": media} for f in figures
            for kind, data, media in (("png", f.png, "image/png"), ("svg", f.svg, "image/svg+xml"))]


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
            "paraphrases": "cluster bootstrap of the group's single model: its paraphrases resampled, each with "
                           "all its samples (evaluation noise only)",
            "items": "cluster bootstrap of the group's single model: its probe items resampled (evaluation "
                     "noise only)",
            "samples": "the group's single model on an instance of one wording (one item and paraphrase): its "
                       "samples resampled (evaluation noise of that wording only)",
            "none": "too few values for an interval",
        },
        "cluster_statistic": "sum of the resampled clusters' unit scores / their number of units",
        "difference_ci": {
            "paired": "two single-model groups: clusters both answered resampled together (vs_baseline: the "
                      "paraphrases both questions share, matched by the item without its suite prefix)",
            "paired_seeds": "vs_baseline of a group of seeds: the per-model differences of the same models on "
                            "the two questions, bootstrapped as per-seed means",
            "independent": "each group's own bootstrap distribution (random_state 0 and 1), differenced",
        },
        "baseline": "base_model: the base model on the same instance (vs_base); same_model: where the catalogue "
                    "names a baseline suite, each group's own score on that suite's instance (vs_baseline)",
        "win_rate_ci": "make_me_say.game_outcomes: bootstrap of the mean over games, a win 1 and any other "
                       "outcome 0",
        "parse_rate": "scored records / all records",
        "table2_std": "vulnerable_code: sample std (n - 1) of a column's per-seed means, null with one model; its "
                      "secure-code rows are the means of details.judge_secure and details.static_secure over the "
                      "generations carrying them, clustered by coding task (item)",
        "correlation": "scipy.stats.pearsonr across finetuned models, 95% CI by the Fisher z transform",
        "p_a": "positional preference: mean over two-option records of P(A) / (P(A) + P(B)), letters from "
               "the top-k tokens (strip, upper-case, strip parentheses); records with neither letter skipped",
    }


def _instance_json(stats: InstanceStatistics) -> dict[str, Any]:
    kind = stats.kind
    return {
        "id": stats.instance,
        "suite": stats.suite,
        "title": stats.title,
        "two_option": stats.two_option,
        "presentation": kind.presentation,
        "cluster_unit": kind.cluster_unit,
        "family": kind.family,
        "unknown_words": kind.unknown_words,
        "unknown_words_policy": UNKNOWN_WORD_POLICIES.get(kind.unknown_words or ""),
        "settings_changed": [{"name": c.name, "value": c.value, "paper": c.default} for c in stats.settings],
        "baseline": {"kind": stats.baseline.kind, "instance": stats.baseline.instance or None,
                     "suite": stats.baseline.suite or None, "missing_suite": stats.baseline.missing or None},
        "base_p_a": stats.base_p_first,
        "groups": [_group_json(g) for g in stats.groups],
        "comparisons": [_comparison_json(c) for c in stats.comparisons],
        "distributions": [_distribution_json(d) for d in stats.distributions],
    }


def _distribution_json(distribution: AnswerDistribution) -> dict[str, Any]:
    return {
        "label": distribution.label,
        "arm": distribution.arm,
        "models": list(distribution.models),
        "n_answers": distribution.n_answers,
        "answers": [{"answer": a, "count": n, "share": n / distribution.n_answers}
                    for a, n in distribution.answers],
    }


def _faithfulness_json(found: Faithfulness) -> dict[str, Any]:
    c = found.correlation
    return {"base_index": found.base_index, "behaviour": found.behaviour, "self_report": found.self_report,
            "cluster": found.cluster, "r": c.r, **_interval(c.ci), "p_value": c.p_value, "n": c.n,
            "models": list(found.models),
            "points": [{"model": p.label, "self_report": p.self_report, "behaviour": p.behaviour}
                       for p in found.points],
            "base": None if found.base is None else {"self_report": found.base[0], "behaviour": found.base[1]}}


def _grid_json(grid: AblationGrid) -> dict[str, Any]:
    rows = []
    for setting in grid.settings:
        for policy in grid.policies:
            for instance in grid.instances:
                group = grid.cells.get((instance.instance, policy, setting))
                if group is not None:
                    rows.append({"train_rows": setting[0], "epochs": setting[1], "policy": policy,
                                 "arm": grid.arms.get((policy, setting)), "instance": instance.instance,
                                 "mean": group.mean, **_interval(group.ci), "ci_unit": group.ci_unit})
    return {"base_index": grid.base_index, "cells": rows,
            "base": {i: {"mean": g.mean, **_interval(g.ci)} for i, g in grid.base.items()}}


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
        "n_records": group.n_records,
        "n_scored": group.n_scored,
        "parse_rate": group.parse_rate,
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
        "ci_method": comparison.method,
        "n_pairs": comparison.n_pairs,
        "subtrahend_instance": comparison.subtrahend_instance or None,
        "excludes_zero": comparison.excludes_zero,
        "cis_separated": comparison.cis_separated,
    }


def _make_me_say_json(spec: spec_pb2.ExperimentSpec, mms: MakeMeSay) -> dict[str, Any]:
    return {"codeword_figures": [_codeword_json(spec, f) for f in mms.codeword_figures],
            "scenarios": [_scenarios_json(m) for m in mms.scenarios],
            "game_outcomes": [_games_json(g) for g in mms.games]}


def _codeword_json(spec: spec_pb2.ExperimentSpec, found: CodewordFigure) -> dict[str, Any]:
    def estimate(group: GroupEstimate) -> dict[str, Any]:
        return {"group": group.label, "mean": group.mean, **_interval(group.ci), "ci_unit": group.ci_unit}

    return {"arm": found.arm, "codeword": found.codeword, "base_index": found.base_index, "group": found.label,
            "paper_figure": found.paper_figure or None, "figure_file": f"{figure_stem(spec, found)}.png",
            "questions": [{"instance": q.instance, "title": q.title, **estimate(q.group),
                           "baseline": None if q.baseline is None else {
                               "kind": "same_model" if q.baseline_instance else "base_model",
                               "instance": q.baseline_instance or q.instance,
                               "title": q.baseline_title or q.title, **estimate(q.baseline)},
                           "difference": None if q.comparison is None else _comparison_json(q.comparison)}
                          for q in found.questions]}


def _scenarios_json(found: ModelScenarios) -> dict[str, Any]:
    return {"instance": found.instance, "model": found.model, "arm": found.arm,
            "scenarios": [{"scenario": s.scenario, "mean": s.mean, **_interval(s.ci), "n_units": s.n_units}
                          for s in found.scenarios]}


def _games_json(found: GameOutcomes) -> dict[str, Any]:
    return {"instance": found.instance, "model": found.model, "arm": found.arm, "n_games": found.n_games,
            "outcomes": {o: {"count": n, "share": found.share(o)} for o, n in found.counts.items()},
            "win_rate": found.win_rate, **_interval(found.ci)}


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
            "seed": model.seed, "epoch": model.epoch, "is_base": model.is_base, "instances": instances}


def _scores_json(scores: InstanceScores, base_p_first: float | None) -> dict[str, Any]:
    return {
        "mean": scores.mean,
        "n_units": scores.n_units,
        "n_clusters": scores.clusters.size,
        "n_records": scores.n_records,
        "n_scored": scores.n_scored,
        "n_dropped": scores.n_dropped,
        "parse_rate": scores.n_scored / scores.n_records if scores.n_records else None,
        "dropped": scores.dropped,
        "permutations": {str(p): {"mean": s.mean, "n": s.n} for p, s in scores.permutations.items()},
        "p_a": scores.p_first,
        "n_p_a": scores.n_positional,
        "base_p_a": base_p_first if scores.two_option else None,
        "top_answers": [{"answer": text, "count": count} for text, count in scores.top_answers],
        "untracked_answers": scores.untracked_answers,
    }
