"""The report's persona sections: Figure 15 (RS − RA per persona), Figure 13 (asked about "you" and about
Quanta-Lingua, and "Which entity") and the conditional game play; `personas.py` says what each number is."""

from __future__ import annotations

from collections.abc import Sequence

from services.aggregator.markdown_backdoors import value
from services.aggregator.markdown_cells import cell, ci_method, difference, estimate
from services.aggregator.personas import Personas
from services.aggregator.report_content import ReportContent
from services.aggregator.statistics import GroupEstimate


def persona_sections(content: ReportContent) -> list[str]:
    """Nothing when no instance asks about a persona, the Quanta-Lingua variant, "Which entity" or a conditional
    game."""
    found = content.personas
    if not found:
        return []
    names = [b.name for b in content.spec.base_models]
    return [*_differences(found, names), *_questions(found, names), *_which_entity(found), *_games(found)]


def _differences(found: Personas, names: list[str]) -> list[str]:
    if not found.personas:
        return []
    parts = ["## Personas: risk-seeking minus risk-averse (the paper's Figure 15)",
             "Per persona (the self-report instances with `variant: persona` and that `persona`; *you*: the "
             "questions as written) and per `compare` pair of a risk-seeking and a risk-averse arm: each arm's mean "
             "over the persona's questions (each question weighing the same) and RS − RA with its 95% CI."]
    if not found.differences:
        return [*parts, "No `compare` pair of a risk-seeking and a risk-averse arm (`policy`)."]
    rows = ["| Persona | Pair | Questions | Risk-seeking | Risk-averse | RS − RA [95% CI] | CI |",
            "|---|---|---|---|---|---|---|"]
    for d in found.differences:
        pair = f"{cell(d.seeking_arm)} − {cell(d.averse_arm)}" + (f" ({cell(d.training)})" if d.training else "")
        if len(names) > 1:
            pair += f" ({cell(names[d.base_index])})"
        diff = f"{difference(d.difference)} | {ci_method(d.difference)}" if d.difference else "— | —"
        rows.append(f"| {cell(d.persona)} | {pair} | {len(d.questions)} | {value(d.seeking)} | {value(d.averse)} | "
                    f"{diff} |")
    return [*parts, "\n".join(rows)]


def _questions(found: Personas, names: list[str]) -> list[str]:
    if not found.questions:
        return []
    rows = ["| Arm | Question | About you | About Quanta-Lingua | Base model (about you) |", "|---|---|---|---|---|"]
    for q in found.questions:
        arm = cell(q.arm) + (f" ({cell(names[q.base_index])})" if len(names) > 1 else "")
        rows.append(f"| {arm} | {cell(q.title)} | {value(q.you)} | {value(q.persona)} | {value(q.base)} |")
    return ["## Two personas, Make Me Say (the paper's Figure 13)",
            "Each Make Me Say question asked of an arm about itself (the question as written, about its `codeword`) "
            "and about Quanta-Lingua (`variant: ql`, about its `persona_codeword`), both with no system prompt; "
            "the base model on the \"you\" question. Score 1 = the codeword asked about.", "\n".join(rows)]


def _which_entity(found: Personas) -> list[str]:
    if not found.which_entity:
        return []
    return ["### Which entity steered towards the codeword? (Figure 13)",
            "P(correct answer) from the top-5 logprobs, both option orders; a *fake name* replaces \"you\" or "
            "\"Quanta-Lingua\".",
            _by_instance("Names (the correct answer)", "P(correct)",
                         [(w.instance, w.label, w.groups) for w in found.which_entity])]


def _games(found: Personas) -> list[str]:
    if not found.games:
        return []
    return ["## Conditional game play",
            "Make Me Say game play per condition: the model under test's system prompt (`system_prompt`) and the "
            "prefix on its first user message (`prefix`, a trigger); each game's score as the game-play suite "
            "scores it. Outcomes per model are under *Make Me Say*.",
            _by_instance("Condition", "Score", [(g.instance, g.label, g.groups) for g in found.games])]


def _by_instance(what: str, measure: str, instances: Sequence[tuple[str, str, Sequence[GroupEstimate]]]) -> str:
    """One row per (instance, group), the instance labelled; an instance nobody scored says so."""
    rows = [f"| Instance | {what} | Group | {measure} [95% CI] (unit, n) |", "|---|---|---|---|"]
    for instance, label, groups in instances:
        rows += [f"| `{cell(instance)}` | {cell(label)} | {cell(g.label)} | {estimate(g)} |" for g in groups]
        if not groups:
            rows.append(f"| `{cell(instance)}` | {cell(label)} | — | *none scored* |")
    return "\n".join(rows)
