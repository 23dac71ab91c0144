"""The human-readable report: one table per suite instance, comparisons, per-model detail and the method."""

from __future__ import annotations

import re
from collections.abc import Sequence

from selfaware.v1 import spec_pb2
from services.aggregator.bootstrap import CONFIDENCE_LEVEL, N_RESAMPLES, RANDOM_STATE, ConfidenceInterval
from services.aggregator.record_fold import ModelScores
from services.aggregator.statistics import Comparison, GroupEstimate, InstanceStatistics

#: File name the Markdown links the figure by; whoever stores the report keeps the two side by side.
PNG_NAME = "report.png"


def render_markdown(experiment_id: str, spec: spec_pb2.ExperimentSpec, stats: Sequence[InstanceStatistics],
                    models: Sequence[ModelScores], spec_yaml: str) -> str:
    bases = ", ".join(f"**{_cell(b.name)}**" for b in spec.base_models) or "none"
    arms = ", ".join(f"**{_cell(a.name)}**" for a in spec.arms) or "none"
    sections = [
        f"# {spec.name}",
        (f"Experiment `{experiment_id}`. Base model(s): {bases}. Arms: {arms}. Every score is in [0, 1], "
         "where 1 is the direction of the suite's target (e.g. the probe arm's answer, the risky lottery)."),
        f"![Scores by arm, 95% CIs]({PNG_NAME})",
        "## Results",
        *(section for s in stats for section in _instance_section(s)),
        ("Cells: mean [95% CI] (CI unit, n). *seeds*: the CI is over the per-seed means of the group's "
         "models; *items*: the group has a single model, so the CI is over its unit scores (evaluation noise "
         "only); *none*: too few values for an interval. *Base P(A)*: the base model's positional preference "
         "on a two-option instance, the share of probability it puts on the first letter whatever the "
         "content; with both letter orders asked, a model with no preference for the content scores 0.5."),
        "## Comparisons",
        _comparisons_table(stats),
        "## Per-model scores",
        _models_table(stats, models),
        *_answers_section(stats, models),
        "## Dropped records",
        _dropped_section(stats, models),
        "## Method",
        _method(),
        "## Spec",
        f"<details><summary>Experiment spec (YAML)</summary>\n\n{_fenced(spec_yaml, 'yaml')}\n\n</details>",
    ]
    return "\n\n".join(sections) + "\n"


def _instance_section(stats: InstanceStatistics) -> list[str]:
    heading = f"### {stats.title}"
    if stats.title != stats.instance:
        heading += f" (`{stats.instance}`)"
    elif stats.instance != stats.suite:
        heading += f" (suite `{stats.suite}`)"
    if not stats.groups:
        return [heading, "No model has a score on this instance."]
    header = "| Group | Mean [95% CI] (unit, n) |" + (" Base P(A) |" if stats.two_option else "")
    rows = [header, "|---|---|" + ("---|" if stats.two_option else "")]
    for group in stats.groups:
        row = f"| {_cell(group.label)} | {_estimate(group)} |"
        if stats.two_option:
            row += f" {_number(group.base_p_first)} |"
        rows.append(row)
    return [heading, "\n".join(rows)]


def _comparisons_table(stats: Sequence[InstanceStatistics]) -> str:
    rows = ["| Suite instance | Comparison | Difference [95% CI] | CI excludes 0 | Group CIs separated |",
            "|---|---|---|---|---|"]
    for instance in stats:
        for comparison in instance.comparisons:
            rows.append(f"| {_cell(instance.title)} | {_cell(comparison.minuend)} − "
                        f"{_cell(comparison.subtrahend)} | {_difference(comparison)} | "
                        f"{_yes_no(comparison.excludes_zero)} | {_yes_no(comparison.cis_separated)} |")
    if len(rows) == 2:
        return "No comparisons: fewer than two groups were scored on any suite instance."
    return "\n".join(rows)


def _models_table(stats: Sequence[InstanceStatistics], models: Sequence[ModelScores]) -> str:
    rows = ["| Model | Arm | Seed | " + " | ".join(_cell(s.title) for s in stats) + " |",
            "|---|---|---|" + "---|" * len(stats)]
    for model in models:
        cells = []
        for instance in stats:
            scores = model.usable(instance.instance)
            cells.append("—" if scores is None else f"{scores.mean:.3f} (n={scores.n_units})")
        seed = "—" if model.is_base else str(model.seed)
        rows.append(f"| {_cell(model.label)} | {_cell(model.arm or 'base')} | {seed} | "
                    + " | ".join(cells) + " |")
    return "\n".join(rows)


def _answers_section(stats: Sequence[InstanceStatistics], models: Sequence[ModelScores]) -> list[str]:
    """The most common sampled answers per model and instance; nothing when no instance samples text."""
    rows = ["| Model | Suite instance | Most common answers (count) |", "|---|---|---|"]
    for model in models:
        for instance in stats:
            scores = model.instances.get(instance.instance)
            if scores is not None and scores.top_answers:
                said = ", ".join(f"{_cell(repr(text))} ({count})" for text, count in scores.top_answers)
                rows.append(f"| {_cell(model.label)} | {_cell(instance.title)} | {said} |")
    return ["## What the models said", "\n".join(rows)] if len(rows) > 2 else []


def _dropped_section(stats: Sequence[InstanceStatistics], models: Sequence[ModelScores]) -> str:
    rows = ["| Model | Suite instance | Dropped / records | Reasons (count) |", "|---|---|---|---|"]
    for model in models:
        for instance in stats:
            scores = model.instances.get(instance.instance)
            if scores is not None and scores.n_dropped:
                reasons = ", ".join(f"{_cell(reason)} ({count})" for reason, count in scores.dropped.items())
                rows.append(f"| {_cell(model.label)} | {_cell(instance.title)} | "
                            f"{scores.n_dropped} / {scores.n_records} | {reasons} |")
    return "\n".join(rows) if len(rows) > 2 else "No records were dropped."


def _method() -> str:
    return (
        "- Unit: one (item, paraphrase, sample); a two-option item asked in both letter orders is one unit "
        "scoring the mean of the two. A model's instance score is the mean of its unit scores.\n"
        "- Group mean: the mean over the group's models (one per training seed) of each model's instance "
        "score.\n"
        f"- {CONFIDENCE_LEVEL:.0%} confidence intervals: `scipy.stats.bootstrap`, percentile method, "
        f"{N_RESAMPLES:,} resamples, `random_state={RANDOM_STATE}`, over the per-seed means, as in the paper "
        "(its Figure 3). A group with one model (the base model, or a single seed) gets an interval over "
        "that model's unit scores instead; it measures evaluation noise, not seed-to-seed variation.\n"
        "- Differences: the pairs the spec's `compare` names, and each arm minus its base model; bootstrap "
        "of the difference of group means, each group resampled independently in the units of its own "
        "interval. \"Group CIs separated\" means the two groups' intervals do not overlap, the paper's "
        "criterion; as in the paper there are no formal tests and no multiple-comparison correction.\n"
        "- P(A): the mean over a model's two-option records of P(A) / (P(A) + P(B)), letters read from the "
        "top-k next tokens; records with neither letter in the top-k are skipped. Per-permutation scores are "
        "in the JSON report.\n"
        "- Scores exclude dropped records (e.g. a non-number on a 0-100 scale); they are counted above."
    )


def _estimate(group: GroupEstimate) -> str:
    n = f"n={group.n_models}" if group.ci_unit == "seeds" else f"n={group.n_units}"
    return f"{group.mean:.3f} {_interval(group.ci)} ({group.ci_unit}, {n})"


def _difference(comparison: Comparison) -> str:
    return f"{comparison.difference:+.3f} {_interval(comparison.ci)}"


def _interval(ci: ConfidenceInterval | None) -> str:
    return f"[{ci.low:.3f}, {ci.high:.3f}]" if ci is not None else "[—]"


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _yes_no(flag: bool | None) -> str:
    return "—" if flag is None else ("yes" if flag else "no")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _fenced(text: str, language: str) -> str:
    """`text` in a code fence longer than any backtick run inside it, so the spec can never break out."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"
