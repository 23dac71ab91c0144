"""The report's vulnerable-code section: the paper's Table 2 per base model (mean ± std over seeds, a 95% CI, the
paper's values beside), then what the numbers rest on: the variant that ran, the judge–analyser agreement, the
generations the analyser could not parse and each row's scored / asked share (a self-report's parse rate)."""

from __future__ import annotations

from services.aggregator.figures.table2 import figure_stem
from services.aggregator.markdown_cells import cell, interval, percent
from services.aggregator.record_fold import Agreement
from services.aggregator.report_content import ReportContent
from services.aggregator.vulnerable_code import (
    PAPER_COLUMNS,
    VARIANT_NOTES,
    Column,
    Row,
    Table2,
)


def vulnerable_code_section(content: ReportContent) -> list[str]:
    """Nothing when the experiment has no vulnerable-code instance with a value."""
    tables = content.vulnerable_code.tables
    if not tables:
        return []
    parts = ["## Vulnerable code (the paper's Table 2)",
             "Each cell: mean ± std over seeds (the sample std of the per-seed means; *n/a* with one seed) "
             "[95% CI] (CI unit, n). The CI is a bootstrap over the per-seed means (*seeds*), or for a column of "
             "one model a cluster bootstrap of its mean (*items*: by coding task, each with all its generations; "
             "*paraphrases* / *samples* for a self-report), which measures evaluation noise only. The secure-code "
             "rows are the share of generations the judge (the paper's YES/NO prompt) or the static analyser "
             "(Bandit) found secure, each over the generations it gave a verdict on."]
    spec = content.spec
    for table in tables:
        if len(spec.base_models) > 1:
            parts.append(f"### {cell(spec.base_models[table.base_index].name)}")
        parts += _table(content, table)
    return parts


def _table(content: ReportContent, table: Table2) -> list[str]:
    spec = content.spec
    base_name = spec.base_models[table.base_index].name
    heads = [cell(c.arm) if c.arm else f"base model ({cell(base_name)})" for c in table.columns]
    rows = ["| | " + " | ".join([*heads, *(f"paper: {p}" for p in PAPER_COLUMNS)]) + " |",
            "|---|" + "---|" * (len(heads) + len(PAPER_COLUMNS))]
    for row in table.rows:
        cells = [_value(row, c.label) for c in table.columns]
        rows.append(f"| {cell(row.title)} | " + " | ".join([*cells, *(row.paper or ("—",) * 3)]) + " |")
    parts = ["\n".join(rows),
             "The paper's columns (spec §5.3) are GPT-4o-2024-08-06 finetuned on 6,000 vulnerable (FT vulnerable) "
             "or secure (FT secure) programs, five seeds each, and GPT-4o itself, judged by GPT-4o; the base "
             "model, training data, judge and seeds here differ, so compare directions, not values. The paper "
             "has no static-analyser row."]
    parts += _notes(table)
    share = ["| Scored / asked | " + " | ".join(heads) + " |", "|---|" + "---|" * len(heads)]
    for row in table.rows:
        share.append(f"| {cell(row.title)} | " + " | ".join(_share(row, c.label) for c in table.columns)
                     + " |")
    parts += ["Scored / asked per column: for a secure-code row the generations with that verdict (the judge's "
              "answer parsed, the code parsed by the analyser) of all generations; for a self-report the "
              "numeric answers from 0 to 100 of all answers (its parse rate).", "\n".join(share)]
    links = ", ".join(f"[{cell(row.title)}]({figure_stem(spec, table, row)}.png)" for row in table.rows
                      if row.cells)
    parts.append(f"Figures (one per row: each arm's mean with its seeds as points, and the base model): {links}.")
    return parts


def _notes(table: Table2) -> list[str]:
    notes = []
    columns = {c.label: c for c in table.columns}
    for instance, variant in table.variants.items():
        checks = [c for c in table.checks if c.instance == instance]
        ran = (f"`{variant}`, {VARIANT_NOTES[variant]}" if variant in VARIANT_NOTES
               else f"`{variant}`" if variant else "not recorded")
        agreement = ", ".join(f"{_name(columns[c.column])} {_agreement(c.agreement)}" for c in checks)
        unparsed = ", ".join(f"{_name(columns[c.column])} {c.unparsed} of {c.generations}" for c in checks)
        notes.append("\n".join([
            f"- Secure-code evaluation `{cell(instance)}`: variant {cell(ran)}.",
            f"- Judge–analyser agreement (generations where both gave a verdict and agreed): {agreement}; overall "
            f"{_agreement(table.agreement(instance))}.",
            f"- Generations the static analyser (Bandit) could not parse (no static verdict): {unparsed}."]))
    return notes


def _name(column: Column) -> str:
    return cell(column.arm) if column.arm else "base model"


def _agreement(found: Agreement) -> str:
    return f"{percent(found.share)} ({found.n_agree}/{found.n_both})"


def _value(row: Row, column: str) -> str:
    found = row.cell(column)
    if found is None:
        return "none scored" if row.asked.get(column) else "—"
    std = f"{found.std:.3f}" if found.std is not None else "n/a"
    return f"{found.mean:.3f} ± {std} {interval(found.ci)} ({found.ci_unit}, n={found.n_resampled})"


def _share(row: Row, column: str) -> str:
    found = row.cell(column)
    if found is None:
        asked = row.asked.get(column, 0)
        return f"{percent(0.0)} (0/{asked})" if asked else "—"
    return f"{percent(found.scored_share)} ({found.n_scored}/{found.n_records})"
