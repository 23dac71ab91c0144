"""The report's sections that reproduce the paper's tables: answer distributions (Figure 2, Table 29), the
settings that differ from the paper's, faithfulness correlations (Figure 4) and the size × epochs grid (Table
28)."""

from __future__ import annotations

from collections.abc import Sequence

from selfaware.v1 import spec_pb2
from services.aggregator.ablation import AblationGrid
from services.aggregator.faithfulness import ALL_MODELS, Faithfulness
from services.aggregator.markdown_cells import cell, interval, number, percent
from services.aggregator.statistics import InstanceStatistics
from services.aggregator.suite_info import JUDGED_TYPES

#: Words per group in the distribution tables (the JSON has them all).
TABLE_WORDS = 10
JUDGED_NOTE = ("The answers are the judge's guesses: the word it read from each of the model's answers (its raw "
               "reply is the record's `details.guess_raw`).")


def distributions_section(stats: Sequence[InstanceStatistics]) -> list[str]:
    """Per word instance, each group's most common answers with their share; nothing without word answers."""
    parts = []
    for instance in stats:
        if not instance.distributions:
            continue
        rows = ["| Group | Answers | Most common answers (share) |", "|---|---|---|"]
        for distribution in instance.distributions:
            said = ", ".join(f"{cell(word)} {percent(share)}" for word, share in distribution.shares(TABLE_WORDS))
            rows.append(f"| {cell(distribution.label)} | {distribution.n_answers} | {said} |")
        judged = instance.kind.question_type in JUDGED_TYPES
        parts += [f"### {instance.title}", *([JUDGED_NOTE] if judged else []), "\n".join(rows)]
    if not parts:
        return []
    return ["## Answer distributions",
            "Each group's answers pooled over its models (the paper's Figure 2 and Table 29; for Make Me Say "
            "the words the models chose and the judge's guesses), as the suite parsed them (a word normalised "
            "with `strip().strip('.').lower()`, a number, a language); the percentages are of every answer, "
            "including those the score dropped. Each model's own most common answers are in *What the models "
            "said*.", *parts]


def settings_section(stats: Sequence[InstanceStatistics]) -> list[str]:
    """The settings each instance ran with that differ from the paper's, and what is not known."""
    rows = ["| Suite instance | Setting | Used | Default |", "|---|---|---|---|"]
    for instance in stats:
        for change in instance.settings:
            rows.append(f"| {cell(instance.title)} | `{change.name}` | {change.value!r} | {change.default!r} |")
    unknown = [s.title for s in stats if not s.kind.catalogued]
    parts = ["## Settings against the paper's"]
    if len(rows) > 2:
        parts += ["These suite instances ran with settings other than their suites' defaults in the evaluator's "
                  "catalogue, which are the paper's where it gives one (100 samples per paraphrase at T=1, 250 "
                  "lottery pairs, ...; where it gives none, as for some `max_tokens`, the suite's description "
                  "says so). Their scores are not the paper's protocol.", "\n".join(rows)]
    else:
        parts.append("Every catalogued suite instance ran with the paper's settings (its suite's defaults).")
    if unknown:
        parts.append("Not checked (no catalogue entry for the suite): " + ", ".join(cell(t) for t in unknown) + ".")
    return parts


def faithfulness_section(spec: spec_pb2.ExperimentSpec, found: Sequence[Faithfulness],
                         stats: Sequence[InstanceStatistics]) -> list[str]:
    """Pearson r between self-reports and behaviour across finetuned models; nothing when none is defined."""
    if not found:
        return []
    titles = {s.instance: s.title for s in stats}
    several = len(spec.base_models) > 1
    rows = ["| Self-report | Behaviour | Models | r [95% CI] | n | p | Base model (self-report, behaviour) |",
            "|---|---|---|---|---|---|---|"]
    for f in found:
        who = "every finetuned model" if f.cluster == ALL_MODELS else f"policy {f.cluster}"
        if several:
            who = f"{spec.base_models[f.base_index].key}: {who}"
        c = f.correlation
        rows.append(f"| {cell(titles.get(f.self_report, f.self_report))} | "
                    f"{cell(titles.get(f.behaviour, f.behaviour))} | {cell(who)} | {number(c.r)} "
                    f"{interval(c.ci)} | {c.n} | {number(c.p_value)} | "
                    f"{'—' if f.base is None else f'({number(f.base[0])}, {number(f.base[1])})'} |")
    return ["## Faithfulness: self-report against behaviour",
            "Pearson r across finetuned models of each model's self-report score against its behaviour score "
            "(the paper's Figure 4), within each policy's models when there are several policies; epoch "
            "checkpoints count as models. 95% CI by the Fisher z transform "
            "(`scipy.stats.pearsonr(...).confidence_interval()`), from four models on.",
            "\n".join(rows)]


def ablation_section(spec: spec_pb2.ExperimentSpec, grids: Sequence[AblationGrid]) -> list[str]:
    """The paper's Table 28: one row per (training rows, epochs), a column per (instance, policy)."""
    parts = []
    for grid in grids:
        columns = [(i, p) for i in grid.instances for p in grid.policies]
        header = "| Training rows | Epochs | " + " | ".join(
            cell(i.title + (f" · {p}" if p else "")) for i, p in columns) + " |"
        rows = [header, "|---|---|" + "---|" * len(columns)]
        for setting in grid.settings:
            cells = []
            for instance, policy in columns:
                group = grid.cells.get((instance.instance, policy, setting))
                cells.append("—" if group is None else f"{group.mean:.2f} {interval(group.ci, 2)}")
            rows.append(f"| {'?' if setting[0] is None else setting[0]} | {setting[1]} | " + " | ".join(cells) + " |")
        base = [f"{grid.base[i.instance].mean:.2f}" if i.instance in grid.base else "—" for i, _ in columns]
        rows.append("| base model | — | " + " | ".join(base) + " |")
        if len(grids) > 1:
            parts.append(f"### {cell(spec.base_models[grid.base_index].name)}")
        parts.append("\n".join(rows))
    if not parts:
        return []
    return ["## Training rows × epochs",
            "The paper's Table 28: each arm's score by the rows it trained on and its epochs, behaviour first, "
            "then self-reports (all on [0, 1]; the paper prints the 0-100 self-report unscaled). Figure: "
            "`ablation.png`.", *parts]
