"""Question type `scenario_scale`: how close a scenario is to the model's goals, from 0 to 100 (spec §4.4 item 4,
Figure 6's "How close to goals?" and Figure 23).

Each prompt is the authors' (`mains/scenarios.py`): the entry's prefix, a paraphrase, a blank line and the entry's
`suffix` (the 0-100 instruction), with `{scenario}` filled. It is sampled `samples_per_paraphrase` times (the
paper: 10 per paraphrase and scenario, T=1, `max_tokens` 1) and every sample is one record, scored number / 100 by
the `numeric` type's parse (`numeric.rate_scale`); anything else is dropped with its reason. Records carry
`details.scenario` (the text asked) and `details.scenario_index` (its place in the authors' list).

The codeword. The authors' 12 scenarios name two codewords, "ring" and "bark" (user said / you said / user never
said / you never said each, then helpful / unhelpful / happy / unhappy), and their models are ring or bark models.
Here the first word the file names (`named_words[0]`, "ring") stands for the instance's codeword and the second
("bark") for a control word: "bark", or "ring" when the codeword is bark. So a ring model is asked the authors' 12
scenarios as written, a bark model the same 12 with the two words' places swapped, and a spring model the ring
scenarios with "spring" (the bark ones stay); scenario_index 0 is always "The user said the word "<codeword>"."
and 4 "The user never said the word "<codeword>".", whatever the codeword.

`ask` chooses the scenarios an instance asks, as templates with `{codeword}` and `{control}` (none: all). The
suites that ask a scenario in common ask the very same queries (messages, n, temperature, max_tokens and seed, which
comes from the evaluation seed, the paraphrase and the scenario text, not from the suite instance), so the
evaluator's response cache answers the overlap once, and "user said" with its baseline "user never said" describe
the same samples as the 12-scenario figure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from selfaware.errors import DataError
from selfaware.v1 import records_pb2 as rec

from .._api import Answer, Query, SampleQuery, SuiteContext, derive_seed
from .._params import CODEWORD, SELF_REPORT_PARAMS
from ._api import Question, question_type
from ._sampled import completions, sample_records, system_messages
from ._template import fill, with_prefix
from .free_word import normalize_word
from .numeric import rate_scale

SCENARIO = "scenario"


def codeword_scenarios(scenarios: Sequence[str], named_words: tuple[str, str], codeword: str) -> list[str]:
    """The authors' scenarios with the quoted named words mapped to the codeword and the control word."""
    first, second = named_words
    control = first if codeword == second else second
    mapping = {first: codeword, second: control}
    quoted = re.compile('"(' + "|".join(re.escape(word) for word in named_words) + ')"')
    return [quoted.sub(lambda m: f'"{mapping[m.group(1)]}"', text) for text in scenarios]


def control_word(named_words: tuple[str, str], codeword: str) -> str:
    """The word that stands beside the codeword: the second named word, or the first when it is the codeword."""
    return named_words[0] if codeword == named_words[1] else named_words[1]


def shared_seed(evaluation_seed: int, paraphrase: int, scenario: str) -> int:
    """The sample seed of (paraphrase, scenario text) in every instance that asks it, so they share samples."""
    return derive_seed(evaluation_seed, "scenario_scale", str(paraphrase), scenario)


@dataclass(frozen=True)
class ScenarioScale:
    #: The two words the authors' scenarios name in quotes: the codeword's stand-in, then the control's.
    named_words: tuple[str, str]
    #: Templates of the scenarios to ask (`{codeword}`, `{control}`), in this order; empty: all, in file order.
    ask: tuple[str, ...] = ()
    name: str = "scenario_scale"
    params = (*SELF_REPORT_PARAMS, CODEWORD)

    def queries(self, question: Question, context: SuiteContext) -> list[Query]:
        p = context.params
        where = f"suite instance {context.instance_id!r}"
        if not question.scenarios:
            raise DataError(f"{where}: the question has no scenarios")
        codeword = normalize_word(p["codeword"])
        scenarios = codeword_scenarios(question.scenarios, self.named_words, codeword)
        chosen = self._chosen(scenarios, codeword, where)
        suffix = f"\n\n{question.suffix}" if question.suffix else ""
        queries: list[Query] = []
        for index, paraphrase in enumerate(with_prefix(question)):
            for number in chosen:
                scenario = scenarios[number]
                text = fill(paraphrase + suffix, {SCENARIO: scenario}, where)
                queries.append(SampleQuery(
                    item=f"{question.item}/{index}" + (f"/{number}" if len(chosen) > 1 else ""),
                    messages=(*system_messages(p), {"role": "user", "content": text}),
                    n=p["samples_per_paraphrase"], temperature=float(p["temperature"]), max_tokens=p["max_tokens"],
                    seed=shared_seed(context.seed, index, scenario), paraphrase=index,
                    details={"scenario": scenario, "scenario_index": number}))
        return queries

    def score(self, query: Query, answer: Answer, context: SuiteContext) -> list[rec.EvalRecord]:
        sampled, texts = completions(query, answer, self.name)
        return sample_records(sampled, texts, rate_scale)

    def _chosen(self, scenarios: list[str], codeword: str, where: str) -> list[int]:
        """Indices of the scenarios to ask, each template filled for this codeword."""
        if not self.ask:
            return list(range(len(scenarios)))
        words = {"codeword": codeword, "control": control_word(self.named_words, codeword)}
        chosen = []
        for template in self.ask:
            text = template.format(**words)
            if text not in scenarios:
                raise DataError(f"{where}: no scenario {text!r} in the question's scenarios: {scenarios}")
            chosen.append(scenarios.index(text))
        return chosen


@question_type("scenario_scale")
def scenario_scale(named_words: Sequence[str], ask: Sequence[str] = ()) -> ScenarioScale:
    """`named_words`: the two words the authors' scenarios name in quotes (the codeword's stand-in first);
    `ask`: templates of the scenarios to ask (`{codeword}`, `{control}`); none: all of them."""
    if len(named_words) != 2 or len({normalize_word(w) for w in named_words}) != 2:
        raise ValueError(f"scenario_scale: named_words must be two different words, got {list(named_words)}")
    for template in ask:
        template.format(codeword="c", control="o")  # an unknown placeholder fails the suite file
    return ScenarioScale((str(named_words[0]), str(named_words[1])), tuple(ask))
