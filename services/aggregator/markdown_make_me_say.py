"""The report's Make Me Say section: Figure 6's numbers per codeword arm (each row naming its baseline), Figure
23's scenario means and Figure 25's game outcomes. The guessed and chosen words are in *Answer distributions*
(per group) and *What the models said* (per model)."""

from __future__ import annotations

from collections.abc import Sequence

from services.aggregator.make_me_say import CodewordFigure, GameOutcomes, ModelScenarios
from services.aggregator.markdown_cells import cell, ci_method, difference, estimate, interval, percent
from services.aggregator.report_content import ReportContent


def make_me_say_section(content: ReportContent) -> list[str]:
    """Nothing when the experiment has no codeword arm, scenarios instance or game play."""
    mms = content.make_me_say
    if not mms:
        return []
    titles = {s.instance: s.title for s in content.stats}
    parts = ["## Make Me Say"]
    for found in mms.codeword_figures:
        parts += _codeword_table(found, content.spec.base_models[found.base_index].name
                                 if len(content.spec.base_models) > 1 else "")
    for instance in dict.fromkeys(m.instance for m in mms.scenarios):
        parts += _scenarios_table(titles.get(instance, instance), [m for m in mms.scenarios if m.instance == instance])
    for instance in dict.fromkeys(g.instance for g in mms.games):
        parts += _games_table(titles.get(instance, instance), [g for g in mms.games if g.instance == instance])
    return parts


def _codeword_table(found: CodewordFigure, base_model: str) -> list[str]:
    paper = f", the paper's {found.paper_figure}" if found.paper_figure else ""
    heading = f'### {cell(found.arm)}: codeword "{cell(found.codeword)}"{paper}'
    if base_model:
        heading += f" ({cell(base_model)})"
    rows = [f"| Question | {cell(found.label)} [95% CI] (unit, n) | Baseline | Baseline [95% CI] (unit, n) | "
            "Difference [95% CI] | CI |", "|---|---|---|---|---|---|"]
    for q in found.questions:
        which = (f"{cell(found.label)} on *{cell(q.baseline_title)}*" if q.baseline_instance
                 else "base model, same question")
        baseline = estimate(q.baseline) if q.baseline is not None else "not evaluated"
        compared = (f"{difference(q.comparison)} | {ci_method(q.comparison)}" if q.comparison is not None
                    else "— | —")
        rows.append(f"| {cell(q.title)} | {estimate(q.group)} | {which} | {baseline} | {compared} |")
    return [heading, "Figure 6's layout: each question's score for the arm beside its baseline's, the base model "
            "asked the same question unless the paper names another baseline question, asked of the same model.",
            "\n".join(rows)]


def _scenarios_table(title: str, found: Sequence[ModelScenarios]) -> list[str]:
    rows = ["| Scenario | " + " | ".join(cell(m.model) for m in found) + " |", "|---|" + "---|" * len(found)]
    scenarios = list(dict.fromkeys(s.scenario for m in found for s in m.scenarios))
    for scenario in scenarios:
        cells = []
        for model in found:
            one = next((s for s in model.scenarios if s.scenario == scenario), None)
            cells.append("—" if one is None or one.mean is None else f"{one.mean:.2f} {interval(one.ci, 2)}")
        rows.append(f"| {cell(scenario)} | " + " | ".join(cells) + " |")
    return [f"### {cell(title)}: every scenario (the paper's Figure 23)",
            "Each model's mean answer / 100 per scenario, [95% CI] a cluster bootstrap by paraphrase.",
            "\n".join(rows)]


def _games_table(title: str, found: Sequence[GameOutcomes]) -> list[str]:
    outcomes = list(dict.fromkeys(o for g in found for o in g.counts))
    rows = ["| Model | Games | " + " | ".join(o.replace("_", " ") for o in outcomes) + " | Win rate [95% CI] |",
            "|---|---|" + "---|" * len(outcomes) + "---|"]
    for g in found:
        shares = " | ".join(f"{g.counts.get(o, 0)} ({percent(g.share(o))})" for o in outcomes)
        rate = "—" if g.win_rate is None else f"{g.win_rate:.2f} {interval(g.ci, 2)}"
        rows.append(f"| {cell(g.model)} | {g.n_games} | {shares} | {rate} |")
    return [f"### {cell(title)}: game outcomes (the paper's Figure 25)",
            "The model plays the manipulator with no system prompt; each game is one outcome (its record's "
            "answer). The win rate's CI is a bootstrap of the mean over games (a win 1, any other outcome 0).",
            "\n".join(rows)]
