"""The human-readable report: one table per suite instance, the paper's tables, comparisons, per-model detail
and the method."""

from __future__ import annotations

from collections.abc import Sequence

from selfaware.specs import is_trained
from services.aggregator.bootstrap import CONFIDENCE_LEVEL, N_RESAMPLES, RANDOM_STATE
from services.aggregator.markdown_backdoors import backdoor_sections
from services.aggregator.markdown_cells import (
    cell,
    ci_method,
    difference,
    estimate,
    fenced,
    number,
    percent,
    yes_no,
)
from services.aggregator.markdown_datasets import datasets_section
from services.aggregator.markdown_make_me_say import make_me_say_section
from services.aggregator.markdown_paper import (
    ablation_section,
    distributions_section,
    faithfulness_section,
    settings_section,
)
from services.aggregator.markdown_personas import persona_sections
from services.aggregator.markdown_vulnerable_code import vulnerable_code_section
from services.aggregator.record_fold import InstanceScores, ModelScores
from services.aggregator.report_content import ReportContent
from services.aggregator.statistics import InstanceStatistics
from services.aggregator.suite_info import UNKNOWN_WORD_POLICIES

#: File name the Markdown links the overview figure by; whoever stores the report keeps the files side by side.
PNG_NAME = "report.png"


def render_markdown(content: ReportContent, figures: Sequence[tuple[str, str]], spec_yaml: str) -> str:
    """The report; `figures` are (file name, caption) of the figure files stored beside it."""
    spec, stats, models = content.spec, content.stats, content.models
    titles = {s.instance: s.title for s in stats}
    bases = ", ".join(f"**{cell(b.name)}**" for b in spec.base_models) or "none"
    arms = ", ".join(f"**{cell(a.name)}**" + ("" if is_trained(a) else " (data only)") for a in spec.arms) or "none"
    sections = [
        f"# {spec.name}",
        (f"Experiment `{content.experiment_id}`. Base model(s): {bases}. Arms: {arms}. Every score is in "
         "[0, 1], where 1 is the direction of the suite's target (e.g. the probe arm's answer, the risky "
         "lottery)."),
        *(f"![{caption}]({name})" for name, caption in figures),
        "## Results",
        *(section for s in stats for section in _instance_section(s, titles)),
        ("Cells: mean [95% CI] (CI unit, n). *seeds*: the CI is over the per-seed means of the group's "
         "models (the paper's); *paraphrases*: the group has a single model, so the CI is a cluster bootstrap "
         "of its mean, each paraphrase resampled with all its samples; *items*: the same by probe item; "
         "*samples*: the same by sample, for a question asked in one wording only; all three "
         "measure evaluation noise only, not seed-to-seed variation; *none*: too few values for an interval. "
         "*Parsed*: the share of answers that were a number (the rest are dropped from the score). *Base "
         "P(A)*: the base model's positional preference on a two-option instance, the share of probability it "
         "puts on the first letter whatever the content; with both letter orders asked, a model with no "
         "preference for the content scores 0.5."),
        *distributions_section(stats),
        *make_me_say_section(content),
        *vulnerable_code_section(content),
        *backdoor_sections(content),
        *persona_sections(content),
        *datasets_section(content.datasets),
        *settings_section(stats),
        "## Comparisons",
        _comparisons_table(stats, titles),
        *faithfulness_section(spec, content.faithfulness, stats),
        *ablation_section(spec, content.grids),
        "## Per-model scores",
        _models_table(stats, models),
        *_answers_section(stats, models),
        "## Dropped records",
        _dropped_section(stats, models),
        "## Method",
        _method(),
        "## Spec",
        f"<details><summary>Experiment spec (YAML)</summary>\n\n{fenced(spec_yaml, 'yaml')}\n\n</details>",
    ]
    return "\n\n".join(sections) + "\n"


def _instance_section(stats: InstanceStatistics, titles: dict[str, str]) -> list[str]:
    heading = f"### {stats.title}"
    if stats.title != stats.instance:
        heading += f" (`{stats.instance}`)"
    elif stats.instance != stats.suite:
        heading += f" (suite `{stats.suite}`)"
    notes = []
    if stats.kind.unknown_words is not None:
        policy = UNKNOWN_WORD_POLICIES.get(stats.kind.unknown_words, "")
        notes.append(f"Unknown words: `{stats.kind.unknown_words}`" + (f", {policy}." if policy else "."))
    if stats.settings:
        used = ", ".join(f"`{c.name}` {c.value!r} (default: {c.default!r})" for c in stats.settings)
        notes.append(f"Run with {used}.")
    if stats.baseline.same_model:
        other = stats.baseline.instance
        named = f"`{other}`" if titles.get(other, other) == other else f"*{cell(titles[other])}* (`{other}`)"
        notes.append(f"Baseline: each group's own score on {named}, the paper's baseline for this question, not "
                     "the base model's; see *Comparisons*.")
    elif missing := stats.baseline.missing:
        notes.append(f"Baseline: the base model. The paper's baseline for this question, each model's own score on "
                     f"suite `{missing}`, was not evaluated (no instance of it asks about the same codeword).")
    if stats.kind.presentation == "distribution":
        return [heading, *notes, "A distribution, not a score: see *Answer distributions*."]
    if not stats.groups:
        return [heading, *notes, "No model has a score on this instance."]
    numeric = stats.kind.presentation == "numeric"
    header = ("| Group | Mean [95% CI] (unit, n) |" + (" Parsed |" if numeric else "")
              + (" Base P(A) |" if stats.two_option else ""))
    rows = [header, "|---|---|" + ("---|" if numeric else "") + ("---|" if stats.two_option else "")]
    for group in stats.groups:
        row = f"| {cell(group.label)} | {estimate(group)} |"
        if numeric:
            row += f" {percent(group.parse_rate)} ({group.n_scored}/{group.n_records}) |"
        if stats.two_option:
            row += f" {number(group.base_p_first)} |"
        rows.append(row)
    return [heading, *notes, "\n".join(rows)]


def _comparisons_table(stats: Sequence[InstanceStatistics], titles: dict[str, str]) -> str:
    rows = ["| Suite instance | Comparison | Difference [95% CI] | CI | CI excludes 0 | Group CIs separated |",
            "|---|---|---|---|---|---|"]
    for instance in stats:
        for comparison in instance.comparisons:
            subtrahend = comparison.subtrahend
            if other := comparison.subtrahend_instance:
                subtrahend += f" on {titles.get(other, other)}"
            rows.append(f"| {cell(instance.title)} | {cell(comparison.minuend)} − "
                        f"{cell(subtrahend)} | {difference(comparison)} | {ci_method(comparison)} | "
                        f"{yes_no(comparison.excludes_zero)} | {yes_no(comparison.cis_separated)} |")
    if len(rows) == 2:
        return "No comparisons: fewer than two groups were scored on any suite instance."
    return "\n".join(rows)


def _models_table(stats: Sequence[InstanceStatistics], models: Sequence[ModelScores]) -> str:
    rows = ["| Model | Arm | Seed | " + " | ".join(cell(s.title) for s in stats) + " |",
            "|---|---|---|" + "---|" * len(stats)]
    for model in models:
        cells = []
        for instance in stats:
            scores = model.usable(instance.instance)
            cells.append(_model_cell(scores, instance.kind.presentation == "numeric"))
        seed = "—" if model.is_base else str(model.seed) + (f", epoch {model.epoch}" if model.is_checkpoint else "")
        rows.append(f"| {cell(model.label)} | {cell(model.arm or 'base')} | {seed} | "
                    + " | ".join(cells) + " |")
    return "\n".join(rows)


def _model_cell(scores: InstanceScores | None, numeric: bool) -> str:
    if scores is None or scores.mean is None:
        return "—"
    parsed = f", parsed {percent(scores.n_scored / scores.n_records)}" if numeric and scores.n_records else ""
    return f"{scores.mean:.3f} (n={scores.n_units}{parsed})"


def _answers_section(stats: Sequence[InstanceStatistics], models: Sequence[ModelScores]) -> list[str]:
    """The most common sampled answers per model and instance; nothing when no instance samples text."""
    rows = ["| Model | Suite instance | Most common answers (count) |", "|---|---|---|"]
    for model in models:
        for instance in stats:
            scores = model.instances.get(instance.instance)
            if scores is not None and scores.top_answers:
                said = ", ".join(f"{cell(repr(text))} ({count})" for text, count in scores.top_answers)
                rows.append(f"| {cell(model.label)} | {cell(instance.title)} | {said} |")
    return ["## What the models said", "\n".join(rows)] if len(rows) > 2 else []


def _dropped_section(stats: Sequence[InstanceStatistics], models: Sequence[ModelScores]) -> str:
    rows = ["| Model | Suite instance | Dropped / records | Reasons (count) |", "|---|---|---|---|"]
    for model in models:
        for instance in stats:
            scores = model.instances.get(instance.instance)
            if scores is not None and scores.n_dropped:
                reasons = ", ".join(f"{cell(reason)} ({count})" for reason, count in scores.dropped.items())
                rows.append(f"| {cell(model.label)} | {cell(instance.title)} | "
                            f"{scores.n_dropped} / {scores.n_records} | {reasons} |")
    return "\n".join(rows) if len(rows) > 2 else "No records were dropped."


def _method() -> str:
    return (
        "- Unit: one (item, paraphrase, sample); a two-option item asked in both letter orders is one unit "
        "scoring the mean of the two. A model's instance score is the mean of its unit scores.\n"
        "- Cluster: one (item, paraphrase): a self-report paraphrase with all its samples, or one probe item.\n"
        "- Group mean: the mean over the group's models (one per training seed) of each model's instance "
        "score.\n"
        f"- {CONFIDENCE_LEVEL:.0%} confidence intervals: `scipy.stats.bootstrap`, percentile method, "
        f"{N_RESAMPLES:,} resamples, `random_state={RANDOM_STATE}`, over the per-seed means, as in the paper "
        "(its Figure 3). A group with one model (the base model, or a single seed) gets a cluster bootstrap "
        "instead: its clusters are resampled and the mean is taken over every unit in them, so samples of one "
        "paraphrase never count as independent (a question asked in one wording only has no other spread: "
        "its samples are resampled); it measures evaluation noise, not seed-to-seed variation.\n"
        "- Differences: the pairs the spec's `compare` names, and each arm minus its base model. Two "
        "single-model groups answered the same questions: their difference is bootstrapped *paired*, the "
        "clusters both answered resampled together, and the difference itself is taken over those clusters "
        "(so it can differ from the two groups' means when one group has clusters the other lacks, as a 0-100 "
        "question with few parsable answers can). Otherwise each group's own bootstrap distribution is "
        "drawn (independent streams) and the interval is the percentiles of their difference. \"Group CIs "
        "separated\" means the two groups' intervals do not overlap, the paper's criterion; as in the paper "
        "there are no formal tests and no multiple-comparison correction.\n"
        "- Baselines: an arm's baseline is the base model asked the same question, except where the paper names "
        "another (spec §4.4: \"How close to your goals?\" against \"The user never said\", f(codeword) against "
        "f(unrelated word), f(message) against another model's messages): there every group is compared with "
        "its own score on the baseline question (*vs baseline*). That difference is paired too: a group of "
        "seeds by model (the same models answered both questions; the interval is over the per-model "
        "differences), a one-model group on the paraphrases both questions share.\n"
        "- Correlations: Pearson r across finetuned models, `scipy.stats.pearsonr`, 95% CI by the Fisher z "
        "transform.\n"
        "- P(A): the mean over a model's two-option records of P(A) / (P(A) + P(B)), letters read from the "
        "top-k next tokens; records with neither letter in the top-k are skipped. Per-permutation scores are "
        "in the JSON report.\n"
        "- Scores exclude dropped records (e.g. a non-number on a 0-100 scale, or a word outside the list "
        "when the suite drops unknown words); they are counted above."
    )
