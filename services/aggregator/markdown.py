"""The human-readable report: results, comparisons, per-model scores and the method, as Markdown."""

from __future__ import annotations

import re
from collections.abc import Sequence

from services.aggregator.bootstrap import CONFIDENCE_LEVEL, N_RESAMPLES, RANDOM_STATE, ConfidenceInterval
from services.aggregator.statistics import ROLES, Comparison, GroupEstimate, ModelScores, SuiteStatistics
from services.aggregator.suite_titles import suite_title

#: File name the Markdown links the figure by; whoever stores the report keeps the two side by side.
PNG_NAME = "report.png"


def render_markdown(experiment_id: str, title: str, family: str, policy: str, opposite_policy: str,
                    suites: Sequence[SuiteStatistics], models: Sequence[ModelScores], spec_yaml: str) -> str:
    names = {"policy": policy, "base": "base model", "opposite": opposite_policy}
    sections = [
        f"# {title}",
        (f"Experiment `{experiment_id}`. Family **{family}**: **{policy}** (the source data's policy) versus "
         f"**{opposite_policy}** (the same questions with every answer flipped), and the base model. Scores "
         f"are {policy} scores in [0, 1]: 1 means answering as a {policy} model would."),
        f"![{policy} vs base vs {opposite_policy}]({PNG_NAME})",
        "## Results",
        _results_table(suites, names),
        ("Cells: mean [95% CI] (CI unit, n). *seeds*: the CI is over the per-seed means of the group's "
         "models; *items*: the group has a single model, so the CI is over its item scores (evaluation noise "
         "only); *none*: too few values for an interval."),
        "## Comparisons",
        _comparisons_table(suites),
        "## Per-model scores",
        _models_table(suites, models),
        *_answers_section(suites, models),
        "## Method",
        _method(),
        "## Spec",
        f"<details><summary>Experiment spec (YAML)</summary>\n\n{_fenced(spec_yaml, 'yaml')}\n\n</details>",
    ]
    return "\n\n".join(sections) + "\n"


def _results_table(suites: Sequence[SuiteStatistics], names: dict[str, str]) -> str:
    header = "| Suite | " + " | ".join(_cell(names[role]) for role in ROLES) + " |"
    rows = [header, "|---|" + "---|" * len(ROLES)]
    for stats in suites:
        cells = [_estimate(stats.groups.get(role)) for role in ROLES]
        rows.append(f"| {_cell(suite_title(stats.suite))} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _comparisons_table(suites: Sequence[SuiteStatistics]) -> str:
    rows = ["| Suite | Comparison | Difference [95% CI] | CI excludes 0 | Group CIs separated |",
            "|---|---|---|---|---|"]
    for stats in suites:
        for comparison in stats.comparisons:
            rows.append(f"| {_cell(suite_title(stats.suite))} | {_cell(comparison.minuend)} − "
                        f"{_cell(comparison.subtrahend)} | {_difference(comparison)} | "
                        f"{_yes_no(comparison.excludes_zero)} | {_yes_no(comparison.cis_separated)} |")
    if len(rows) == 2:
        return "No comparisons: fewer than two groups were scored on any suite."
    return "\n".join(rows)


def _models_table(suites: Sequence[SuiteStatistics], models: Sequence[ModelScores]) -> str:
    rows = ["| Model | Policy | Seed | " + " | ".join(_cell(suite_title(s.suite)) for s in suites) + " |",
            "|---|---|---|" + "---|" * len(suites)]
    for model in models:
        cells = []
        for stats in suites:
            n = len(model.item_scores.get(stats.suite, []))
            cells.append(f"{model.suite_means[stats.suite]:.3f} (n={n})" if model.has(stats.suite) else "—")
        seed = "—" if model.is_base else str(model.seed)
        rows.append(f"| {_cell(model.label)} | {_cell(model.policy or 'base')} | {seed} | "
                    + " | ".join(cells) + " |")
    return "\n".join(rows)


def _answers_section(suites: Sequence[SuiteStatistics], models: Sequence[ModelScores]) -> list[str]:
    """The most common sampled answers per model and suite; nothing when no suite samples text."""
    rows = ["| Model | Suite | Most common answers (count) |", "|---|---|---|"]
    for model in models:
        for stats in suites:
            answers = model.top_answers.get(stats.suite)
            if answers:
                said = ", ".join(f"{_cell(repr(text))} ({count})" for text, count in answers)
                rows.append(f"| {_cell(model.label)} | {_cell(suite_title(stats.suite))} | {said} |")
    return ["## What the models said", "\n".join(rows)] if len(rows) > 2 else []


def _method() -> str:
    return (
        "- Group mean: the mean over the group's models (one per training seed) of each model's suite mean.\n"
        f"- {CONFIDENCE_LEVEL:.0%} confidence intervals: `scipy.stats.bootstrap`, percentile method, "
        f"{N_RESAMPLES:,} resamples, `random_state={RANDOM_STATE}`, over the per-seed means, as in the paper "
        "(its Figure 3). A group with one model (the base model, or a single seed) gets an interval over "
        "that model's item scores instead; it measures evaluation noise, not seed-to-seed variation.\n"
        "- Differences: bootstrap of the difference of group means, each group resampled independently in "
        "the units of its own interval. \"Group CIs separated\" means the two groups' intervals do not "
        "overlap, the paper's criterion; as in the paper there are no formal tests and no "
        "multiple-comparison correction.\n"
        "- Item scores exclude dropped answers (e.g. a non-number on a 0-100 scale)."
    )


def _estimate(estimate: GroupEstimate | None) -> str:
    if estimate is None:
        return "—"
    n = f"n={estimate.n_models}" if estimate.ci_unit == "seeds" else f"n={estimate.n_items}"
    return f"{estimate.mean:.3f} {_interval(estimate.ci)} ({estimate.ci_unit}, {n})"


def _difference(comparison: Comparison) -> str:
    return f"{comparison.difference:+.3f} {_interval(comparison.ci)}"


def _interval(ci: ConfidenceInterval | None) -> str:
    return f"[{ci.low:.3f}, {ci.high:.3f}]" if ci is not None else "[—]"


def _yes_no(flag: bool | None) -> str:
    return "—" if flag is None else ("yes" if flag else "no")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _fenced(text: str, language: str) -> str:
    """`text` in a code fence longer than any backtick run inside it, so the spec can never break out."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"
