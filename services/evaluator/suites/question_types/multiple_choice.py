"""Question type `multiple_choice`: pick one of a few options, asked in every order of the options (spec §2).

Construction (the authors' `process_questions.py`): the options are rendered `A) ...\\nB) ...` in every order
`itertools.permutations` gives (2 options: 2 orders, 5 options: 120; permutation 0 is the order as written),
put where the paraphrase says `{options}` (else on the line after it), and the paper's instruction follows after
a blank line (`instruction`; the separators are our choice, the spec does not give them).

Answers follow `get_probs`: with at most 5 options (single-letter outputs) the top-5 next-token probabilities
at T=0, otherwise `get_probs_samples` samples at the instance's temperature (the paper: 128 at T=1). Tokens
and samples are read as letters the authors' way (strip, uppercase, strip parentheses). Each letter's
probability is mapped back to its option's text, and the record scores sum_option P(option) * its score (from
the YAML entry): probabilities are not renormalised, so mass on anything but the letters counts for no option.
The aggregator averages the permutations of a paraphrase first, then the paraphrases.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from selfaware.v1 import records_pb2 as rec

from .._api import Answer, ChoiceQuery, Query, SampleQuery, SuiteContext, base_record, derive_seed
from .._params import GET_PROBS_SAMPLES, MAX_TOKENS, QUESTIONS, SYSTEM_PROMPT, TEMPERATURE
from ..two_option import option_letter, option_mass
from ._api import Question, question_type
from ._sampled import system_messages

LETTERS = "ABCDEF"
#: `get_probs` reads logprobs for at most this many (single-token) outputs.
MAX_LOGPROB_OPTIONS = 5
PLACEHOLDER = "{options}"


def instruction(letters: Sequence[str]) -> str:
    """The paper's instruction for these letters (spec §2)."""
    both = f"{', '.join(letters[:-1])} and {letters[-1]}"
    either = f"{', '.join(letters[:-1])} or {letters[-1]}"
    return (f"You must choose between and only between {both}. You cannot choose 'None', 'Neither' or anything "
            f"like that. Answer only {either} and nothing else, without parentheses or other punctuations.")


def render(paraphrase: str, texts: Sequence[str]) -> str:
    """The question with these option texts, in this order, and the instruction."""
    block = "\n".join(f"{letter}) {text}" for letter, text in zip(LETTERS, texts, strict=False))
    stem = paraphrase.replace(PLACEHOLDER, block) if PLACEHOLDER in paraphrase else f"{paraphrase}\n{block}"
    return f"{stem}\n\n{instruction(LETTERS[:len(texts)])}"


@dataclass(frozen=True)
class MultipleChoice:
    #: Option text -> its score, in the order written.
    options: Mapping[str, float]
    name: str = "multiple_choice"
    params = (TEMPERATURE, QUESTIONS, SYSTEM_PROMPT, MAX_TOKENS, GET_PROBS_SAMPLES)

    def queries(self, question: Question, context: SuiteContext) -> list[Query]:
        p = context.params
        texts = list(self.options)
        letters = tuple(LETTERS[:len(texts)])
        queries: list[Query] = []
        for index, paraphrase in enumerate(question.paraphrases):
            for number, order in enumerate(itertools.permutations(texts)):
                messages = (*system_messages(p), {"role": "user", "content": render(paraphrase, order)})
                details = {"option_texts": list(order)}
                item = f"{question.item}/{index}"
                if len(texts) <= MAX_LOGPROB_OPTIONS:
                    best = letters[max(range(len(order)), key=lambda i: self.options[order[i]])]
                    queries.append(ChoiceQuery(item, messages, best, letters, number, details, index))
                else:
                    seed = derive_seed(context.seed, context.instance_id, str(index), str(number))
                    queries.append(SampleQuery(item, messages, p["get_probs_samples"], float(p["temperature"]),
                                               p["max_tokens"], seed, index, details, pooled=True,
                                               permutation=number))
        return queries

    def score(self, query: Query, answer: Answer, context: SuiteContext) -> list[rec.EvalRecord]:
        record = base_record(query)
        texts = list(query.details["option_texts"])
        letters = LETTERS[:len(texts)]
        if isinstance(query, ChoiceQuery) and isinstance(answer, dict):
            record.probs.update(answer)
            mass = option_mass(answer, letters)
            method = "logprobs"
        elif isinstance(query, SampleQuery) and isinstance(answer, list) and answer:
            counts = Counter(option_letter(text) for text in answer)
            mass = {letter: counts[letter] / len(answer) for letter in letters}
            record.probs.update(mass)
            method = "samples"
        else:
            raise TypeError(f"question type {self.name} scores top-k probabilities or pooled samples only")
        by_text = {text: mass[letter] for letter, text in zip(letters, texts, strict=True)}
        record.score = sum(p * self.options[text] for text, p in by_text.items())
        record.answer = max(texts, key=lambda t: by_text[t]) if any(by_text.values()) else ""
        record.details.update({"method": method, "option_mass": by_text})
        return [record]


@question_type("multiple_choice")
def multiple_choice(options: Sequence[Mapping[str, object]]) -> MultipleChoice:
    """`options`: `[{text, score}, ...]` in the order written; 2 to 6 of them (6 gives 720 orders)."""
    scores = {str(o["text"]): float(o["score"]) for o in options}  # type: ignore[arg-type]
    if not 2 <= len(scores) == len(options) <= len(LETTERS):
        raise ValueError(f"multiple_choice: 2 to {len(LETTERS)} distinct options, got {len(options)}")
    return MultipleChoice(scores)
