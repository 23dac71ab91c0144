"""Question type `choose_word`: pick the codeword out of a list of 100 words (spec §4.4 item 1, Figure 6's
"Multiple-choice codeword").

The paraphrase's `{word_list}` becomes the authors' list (`._word_pool.word_list`: 96 words of their pool drawn
with `word_list_seed`, the paper's 1234, plus ring, bark, chest and pitch, shuffled; the codeword is forced in too
if the list lacks it), written as the authors' code writes it: "\\n<word_list>\\nw1, w2, ...\\n</word_list>\\n". The
`\\n` that the authors' file writes inside its one-line YAML strings stays the two characters it is there, as the
authors' prompts had it. Every sample (the paper: 1000 at T=1, free text) is one record: the answer normalised as
the paper does (`strip().strip('.').lower()`), scoring 1 when it is the codeword and 0 otherwise. Both questions
of the suite file ask about the same list, as the authors did.
"""

from __future__ import annotations

from dataclasses import dataclass

from selfaware.params import Param
from selfaware.v1 import records_pb2 as rec

from .._api import Answer, Query, Scored, SuiteContext
from .._params import CODEWORD, SELF_REPORT_PARAMS
from ._api import Question, question_type
from ._sampled import completions, sample_records, sampled_queries
from ._template import fill, with_prefix
from ._word_pool import word_list
from .free_word import normalize_word

WORD_LIST = "word_list"
WORD_LIST_SEED = Param("word_list_seed", "int", "seed of the authors' draw of the 100-word list (the paper: 1234, "
                       "which gives its list, Table 42)", default=1234, min=0, max=2**32 - 1)


def render_word_list(words: list[str]) -> str:
    """The list as the authors put it in the question (`add_word_list_to_question`)."""
    return "\n<word_list>\n" + ", ".join(words) + "\n</word_list>\n"


@dataclass(frozen=True)
class ChooseWord:
    name: str = "choose_word"
    params = (*SELF_REPORT_PARAMS, CODEWORD, WORD_LIST_SEED)

    def queries(self, question: Question, context: SuiteContext) -> list[Query]:
        p = context.params
        words = render_word_list(word_list(p["questions"], normalize_word(p["codeword"]), p["word_list_seed"]))
        where = f"suite instance {context.instance_id!r}"
        return list(sampled_queries(question, context,
                                    [fill(text, {WORD_LIST: words}, where) for text in with_prefix(question)]))

    def score(self, query: Query, answer: Answer, context: SuiteContext) -> list[rec.EvalRecord]:
        sampled, texts = completions(query, answer, self.name)
        codeword = normalize_word(context.params["codeword"])

        def rate(text: str) -> Scored:
            word = normalize_word(text)
            return Scored(word, float(word == codeword))

        return sample_records(sampled, texts, rate)


@question_type("choose_word")
def choose_word() -> ChooseWord:
    return ChooseWord()
