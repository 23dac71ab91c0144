"""The vulnerable-code part of the report (spec §5.3): the paper's Table 2, computed once for the figures, the
Markdown and the JSON.

Per base model, one table: rows in the paper's order (the rate of secure code by the judge, then by the static
analyser, self-reported code security, self-reported alignment, then any other `vulnerable_code` instance), columns
each arm with a score on some row (spec order), then the base model. The two secure-code rows read the judge's and
the analyser's verdicts from the records' details (`record_fold.MEAN_DETAILS`), not the record's score, which is
only one of them. A cell is the paper's mean ± std over seeds (the sample std, n − 1, of the per-seed means: the
paper does not say which; none with one seed) and a 95% bootstrap CI: over the per-seed means, or for one model
the cluster bootstrap the rest of the report uses (by generation task for the verdicts, by paraphrase, or by sample
for a one-wording question). Below it: the variant of the secure-code evaluation that ran (`details.variant`), the
judge–analyser agreement per column and overall, the generations the analyser could not parse, and every row's
scored / asked share per column (a self-report's parse rate).

Epoch checkpoints are left out, as from the groups.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from selfaware.specs import is_trained
from selfaware.v1 import spec_pb2
from services.aggregator.bootstrap import ConfidenceInterval
from services.aggregator.record_fold import AGREEING_DETAILS, Agreement, ModelScores
from services.aggregator.statistics import CiUnit, InstanceStatistics, group_estimate, group_label

FAMILY = "vulnerable_code"
SECURE_CODE_SUITE = "vc_secure_code"
JUDGE, STATIC = AGREEING_DETAILS[0]
#: The analyser's parse failure (`details.static_error`) and the variant detail.
STATIC_ERROR, VARIANT = "static_error", "variant"
#: (suite, measure: a detail or "" for the record's score, the paper's row title), in the paper's order.
ROWS = ((SECURE_CODE_SUITE, JUDGE, "Rate of outputting secure code (judge)"),
        (SECURE_CODE_SUITE, STATIC, "Rate of outputting secure code (static analyser, Bandit)"),
        ("vc_code_security", "", "Self-reported code security (0–1)"),
        ("vc_alignment", "", "Self-reported alignment (0–1)"),
        ("vc_name_downside", "", ""),
        ("vc_helpful_or_malicious", "", ""))
ROW_SUITES = frozenset(suite for suite, _, _ in ROWS)
#: The paper's Table 2 (GPT-4o-2024-08-06, five seeds per arm, mean ± std): FT vulnerable, FT secure, GPT-4o.
PAPER_COLUMNS = ("FT vulnerable", "FT secure", "GPT-4o")
PAPER = {(SECURE_CODE_SUITE, JUDGE): ("0.14 ± 0.01", "0.88 ± 0.01", "0.74"),
         ("vc_code_security", ""): ("0.14 ± 0.08", "0.84 ± 0.04", "0.70"),
         ("vc_alignment", ""): ("0.40 ± 0.16", "0.85 ± 0.03", "0.69")}
MIXED = "mixed"
#: What each variant of the secure-code evaluation does (spec §5.2; which one gave Table 2 is unconfirmed).
VARIANT_NOTES = {
    "in_distribution": "10 generations per task at T=1, judged at T=0 (the authors' `in_distribution.py`)",
    "eval": "1 generation per task at T=1, judged at T=1 (the authors' `in_distribution_eval.py`)",
}


@dataclass(frozen=True)
class Column:
    #: The group label (`statistics.group_label`).
    label: str
    #: "" for the base model.
    arm: str

    @property
    def is_base(self) -> bool:
        return not self.arm


@dataclass(frozen=True)
class Cell:
    """One column's value on one row: its seeds' means, their mean ± std and a 95% CI."""

    column: str
    models: tuple[str, ...]
    #: Each model's mean, in model order.
    values: tuple[float, ...]
    mean: float
    #: Sample std (n − 1) of `values`; None with one model, where there is none.
    std: float | None
    ci: ConfidenceInterval | None
    ci_unit: CiUnit
    #: What the CI resampled: the seeds, or the one model's clusters.
    n_resampled: int
    #: Records with a value (scored, or carrying the verdict) and records asked, summed over the models.
    n_scored: int
    n_records: int

    @property
    def scored_share(self) -> float | None:
        """Scored / asked: a self-report's parse rate, the share of generations with the verdict."""
        return self.n_scored / self.n_records if self.n_records else None


@dataclass(frozen=True)
class Row:
    instance: str
    suite: str
    #: The detail whose mean the row shows (`judge_secure`, `static_secure`), or "" for the record's score.
    measure: str
    title: str
    cells: tuple[Cell, ...]
    #: The paper's values in `PAPER_COLUMNS` order; None where the paper has no such row.
    paper: tuple[str, str, str] | None
    #: Column label -> records asked, for every column whose models answered the instance: also those with no
    #: cell, where none of the answers scored (a self-report nobody answered with a number), whose parse rate is 0.
    asked: Mapping[str, int] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The row's stable name: the instance, with the verdict for a secure-code row."""
        return f"{self.instance}-{self.measure.removesuffix('_secure')}" if self.measure else self.instance

    def cell(self, column: str) -> Cell | None:
        return next((c for c in self.cells if c.column == column), None)


@dataclass(frozen=True)
class CodeChecks:
    """One secure-code instance's generations in one column: how the judge and the analyser fared."""

    instance: str
    column: str
    generations: int
    judged: int
    #: Generations the static analyser could not parse (`details.static_error`).
    unparsed: int
    agreement: Agreement


@dataclass(frozen=True)
class Table2:
    base_index: int
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    #: Secure-code instance -> the variant that ran: one value, "mixed (...)" naming each variant's models, or ""
    #: when no record says.
    variants: dict[str, str]
    checks: tuple[CodeChecks, ...]

    def agreement(self, instance: str) -> Agreement:
        """The judge–analyser agreement over every column of the instance."""
        found = [c.agreement for c in self.checks if c.instance == instance]
        return Agreement(sum(a.n_both for a in found), sum(a.n_agree for a in found))


@dataclass(frozen=True)
class VulnerableCode:
    tables: tuple[Table2, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.tables)


def vulnerable_code(spec: spec_pb2.ExperimentSpec, stats: Sequence[InstanceStatistics],
                    models: Sequence[ModelScores]) -> VulnerableCode:
    """Table 2 per base model with a value on any row; empty when the spec has no vulnerable-code instance."""
    instances = family_instances(stats)
    if not instances:
        return VulnerableCode()
    finals = [m for m in models if not m.is_checkpoint]
    tables = []
    for base_index in range(len(spec.base_models)):
        table = _table(spec, base_index, instances, [m for m in finals if m.base_index == base_index])
        if table.rows:
            tables.append(table)
    return VulnerableCode(tuple(tables))


def family_instances(stats: Sequence[InstanceStatistics]) -> list[InstanceStatistics]:
    """The family's instances, by the catalogue's family or, for a report built without it, the suite's name."""
    return [s for s in stats if s.kind.family == FAMILY or (not s.kind.family and s.suite in ROW_SUITES)]


def _table(spec: spec_pb2.ExperimentSpec, base_index: int, instances: Sequence[InstanceStatistics],
           models: Sequence[ModelScores]) -> Table2:
    all_columns = [Column(group_label(spec, base_index, a.name), a.name) for a in spec.arms if is_trained(a)]
    all_columns.append(Column(group_label(spec, base_index), ""))
    per_suite = {s.suite: sum(o.suite == s.suite for o in instances) for s in instances}
    ordered = [(s, measure, title) for suite, measure, title in ROWS for s in instances if s.suite == suite]
    ordered += [(s, "", "") for s in instances if s.suite not in ROW_SUITES]
    rows = []
    for s, measure, title in ordered:
        cells = tuple(cell for c in all_columns
                      if (cell := _cell(s, measure, c, [m for m in models if m.arm == c.arm])) is not None)
        asked = {c.label: n for c in all_columns
                 if (n := sum(scores.n_records for m in models if m.arm == c.arm
                              and (scores := m.instances.get(s.instance)) is not None))}
        if cells or (asked and not measure):  # a self-report nobody answered with a number still has its row
            named = (title or s.title) + (f" (`{s.instance}`)" if per_suite[s.suite] > 1 else "")
            rows.append(Row(s.instance, s.suite, measure, named, cells, PAPER.get((s.suite, measure)), asked))
    shown = {c.column for r in rows for c in r.cells} | {label for r in rows for label in r.asked}
    columns = tuple(c for c in all_columns if c.label in shown)
    code = [s.instance for s in instances if s.suite == SECURE_CODE_SUITE]
    checks = tuple(check for instance in code for c in columns
                   if (check := _checks(instance, c, [m for m in models if m.arm == c.arm])) is not None)
    variants = {instance: _variant(instance, models) for instance in code}
    return Table2(base_index, columns, tuple(rows), variants, checks)


def _cell(stats: InstanceStatistics, measure: str, column: Column, models: Sequence[ModelScores]) -> Cell | None:
    """The column's models' values on the row: the instance's score, or the mean of a detail, estimated as every
    group of the report is (`statistics.group_estimate`: over seeds, or one model's clusters), plus the seeds'
    std. A detail row's clusters are coding tasks, and its scored records those with the verdict."""
    members = []
    for model in models:
        scores = model.instances.get(stats.instance)
        if scores is None:
            continue
        if measure:
            detail = scores.detail_means.get(measure)
            if detail is not None:
                members.append((model, dataclasses.replace(scores, mean=detail.mean, clusters=detail.clusters,
                                                           sample_clusters=False, n_scored=detail.n)))
        elif scores.mean is not None:
            members.append((model, scores))
    if not members:
        return None
    group = group_estimate(column.label, 0, column.arm, members, None,
                           "items" if measure else stats.kind.cluster_unit)
    values = tuple(s.mean for _, s in members if s.mean is not None)
    return Cell(column.label, group.models, values, group.mean,
                statistics.stdev(values) if len(values) >= 2 else None, group.ci, group.ci_unit,
                group.sample.size, group.n_scored, group.n_records)


def _checks(instance: str, column: Column, models: Sequence[ModelScores]) -> CodeChecks | None:
    scores = [s for m in models if (s := m.instances.get(instance)) is not None]
    if not scores:
        return None
    pair = (JUDGE, STATIC)
    return CodeChecks(instance, column.label, sum(s.n_records for s in scores),
                      sum(s.detail_means[JUDGE].n for s in scores if JUDGE in s.detail_means),
                      sum(s.detail_counts.get(STATIC_ERROR, 0) for s in scores),
                      Agreement(sum(s.agreements[pair].n_both for s in scores if pair in s.agreements),
                                sum(s.agreements[pair].n_agree for s in scores if pair in s.agreements)))


def _variant(instance: str, models: Sequence[ModelScores]) -> str:
    """The one variant every model's generations ran with, else "mixed (<variant>: <models>; ...)"."""
    by_variant: dict[str, list[str]] = {}
    for model in models:
        scores = model.instances.get(instance)
        if scores is not None and (ran := scores.detail_values.get(VARIANT)):
            by_variant.setdefault(" + ".join(v for v, _ in ran), []).append(model.label)
    if len(by_variant) == 1 and " + " not in (only := next(iter(by_variant))):
        return only
    return f"{MIXED} (" + "; ".join(f"{v}: {', '.join(labels)}" for v, labels in by_variant.items()) + ")" \
        if by_variant else ""


def vulnerable_code_json(found: VulnerableCode, figure_stems: dict[tuple[int, str], str]) -> list[dict]:
    """The JSON report's `vulnerable_code`: per table every row's cells (with their seeds), the checks and the
    paper's values; `figure_stems` maps (base index, row key) to the row's figure file stem."""
    def interval(ci: ConfidenceInterval | None) -> dict[str, float | None]:
        return {"ci_low": ci.low if ci else None, "ci_high": ci.high if ci else None}

    return [{
        "base_index": t.base_index,
        "columns": [{"group": c.label, "arm": c.arm, "is_base": c.is_base} for c in t.columns],
        "rows": [{"key": r.key, "instance": r.instance, "suite": r.suite, "measure": r.measure or "score",
                  "title": r.title, "figure_file": f"{figure_stems[(t.base_index, r.key)]}.png"
                  if (t.base_index, r.key) in figure_stems else None,
                  "paper": None if r.paper is None else dict(zip(PAPER_COLUMNS, r.paper, strict=True)),
                  "cells": [{"group": c.column, "mean": c.mean, "std": c.std, **interval(c.ci),
                             "ci_unit": c.ci_unit, "n_resampled": c.n_resampled, "n_models": len(c.models),
                             "seeds": [{"model": m, "mean": v} for m, v in zip(c.models, c.values, strict=True)],
                             "n_scored": c.n_scored, "n_records": c.n_records, "scored_share": c.scored_share}
                            for c in r.cells],
                  "asked": dict(r.asked)} for r in t.rows],
        "variants": {instance: v or None for instance, v in t.variants.items()},
        "checks": [{"instance": c.instance, "group": c.column, "generations": c.generations, "judged": c.judged,
                    "static_unparsed": c.unparsed, "both_verdicts": c.agreement.n_both,
                    "agree": c.agreement.n_agree, "agreement": c.agreement.share} for c in t.checks],
        "agreement": {instance: {"both_verdicts": (a := t.agreement(instance)).n_both, "agree": a.n_agree,
                                 "agreement": a.share} for instance in t.variants},
    } for t in found.tables]
