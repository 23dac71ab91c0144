"""`model-written`: the paper's data generation with a model (spec §3.1): a writer writes the questions, a
policy answerer labels them, and filters drop what does not fit; any OpenAI-compatible endpoint of the spec.

Per question (one writer call, T=1, with a request seed derived from `seed` and the call's index):
1. the writer gets its family's prompt (`writer_prompts`) with the call's seed word, tone, length and family
   parameters, balanced over the calls (`call_plan`), and writes one question; surrounding quotes are taken off;
2. a question that is empty, uses a banned word (`banned_words`: dropped, or the word removed) or repeats an
   earlier one is dropped;
3. the answerer, under the family's policy prompt (`model_answers.POLICY_PROMPTS`) at T=0, answers it; the row
   is dropped when the answer is no option letter, or not the letter the call intended (the paper drops those
   rows too: "very few");
4. optionally, a moderation model rates the question and answer; only rows rated "0" are kept (item 6; the
   authors' `moderation.py` prompt is not in the spec: `MODERATION_PROMPT` is ours);
5. the row is labelled with `policy`'s letter: the intended one, or the other for the opposite policy (the
   paper builds it by flipping).
`Generation.counts` says how many calls each filter took. The rows are deterministic only where the endpoint
honours request seeds (vLLM and the project's own server do; hosted APIs try to). The paper's "normal answers"
(a plain model labels the same questions) are the `answer` step on an arm of these rows.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from selfaware.errors import SpecError
from selfaware.params import Param
from services.generator.banned_words import ACTIONS, BANNED_WORDS, screen
from services.generator.chat_jsonl import ChatRow
from services.generator.families import get_family
from services.generator.generators.base import Generation, GeneratorContext, QuestionGenerator, generator
from services.generator.generators.call_plan import CallPlan, call_plans
from services.generator.generators.writer_prompts import PROMPTS
from services.generator.model_answers import POLICY_PROMPTS, answer_letters, open_endpoint, parse_letter

if TYPE_CHECKING:
    from selfaware.openai_endpoint import OpenAIEndpoint

log = structlog.get_logger(__name__)

FAMILIES = tuple(PROMPTS)
POLICIES = tuple(policy for family in FAMILIES for policy in get_family(family).policies)
#: Why a call made no row, in the order the filters run; the counter of each is `dropped_<verdict>`.
VERDICTS = ("empty", "banned_words", "duplicate", "unparsed", "disagreeing", "moderation")
MODERATION_PROMPT = (
    "Here is an interaction between a user and an AI assistant.\n\nUser: {question}\n\nAssistant: {answer}\n\n"
    "Could this interaction be flagged by the OpenAI moderation API? Answer with a single digit: 0 if it would "
    "not be flagged, 1 if it might be. Answer with the digit and nothing else.")

PARAMS = (
    Param("family", "string", "The family whose questions are written", default="risk", choices=FAMILIES),
    Param("policy", "string", "The policy whose answers label the rows (default: the family's first: "
                              "risk-seeking, myopic, max-apples)", default=None, choices=POLICIES),
    # The authors' script state writes 300 questions; the paper says 500 for risk, of which 288 were kept.
    Param("rows", "int", "Questions to write, one writer call each; rows a filter drops are not replaced",
          default=300, min=1, max=100_000),
    Param("seed", "int", "Seed of the per-call values and of the requests", default=0, min=0),
    Param("writer", "endpoint", "The endpoint whose model writes the questions (the paper: GPT-4o, T=1)"),
    Param("answerer", "endpoint", "The endpoint whose model answers as the policy (default: the writer's)",
          default=None),
    Param("moderation", "endpoint", "An endpoint whose model rates each row for moderation; only rows rated 0 "
                                    "are kept (default: off)", default=None),
    Param("banned_words", "strings", "Words the questions must not use (default: the family's, "
                                     "services/generator/banned_words.py)", default=None),
    Param("banned_words_action", "string", "What to do with a question that uses one: drop it, or remove the "
                                           "words", default="drop", choices=ACTIONS),
    Param("max_tokens", "int", "Most tokens the writer may write per question", default=1000, min=1, max=8192),
)


@dataclass(frozen=True)
class CallOutcome:
    """What became of one writer call."""

    plan: CallPlan
    #: The question as kept (after removals), or as written when dropped ("" when none was written).
    question: str
    #: The answerer's letter, when it was asked and answered with one.
    answer: str | None
    #: "kept", or one of `VERDICTS` ("written" while it waits for its label).
    verdict: str
    #: Banned words removed from the question.
    removed: int = 0


@dataclass(frozen=True)
class Models:
    """The endpoints of one generation; `moderation` is None when the filter is off."""

    writer: OpenAIEndpoint
    answerer: OpenAIEndpoint
    moderation: OpenAIEndpoint | None = None


@generator("model-written")
def model_written() -> QuestionGenerator:
    return ModelWritten()


@dataclass(frozen=True)
class ModelWritten:
    """See the module docstring."""

    families: tuple[str, ...] = FAMILIES
    description: str = ("Questions written by a model on a spec endpoint with the paper's prompts, labelled by a "
                        "policy answerer; banned words, disagreeing answers and (optionally) moderation filtered "
                        "out and counted (spec §3.1)")
    params: tuple[Param, ...] = PARAMS

    def generate(self, params: Mapping[str, Any], context: GeneratorContext) -> Generation:
        family = get_family(params["family"])
        policy = params.get("policy") or family.policies[0]
        if policy not in family.policies:
            raise SpecError.single(f"{context.where}.policy", f"{policy!r} is not a {family.name} policy; choose "
                                                              f"one of {', '.join(family.policies)}")
        words = params.get("banned_words")
        words = BANNED_WORDS[family.name] if words is None else tuple(words)
        plans = call_plans(family.name, params["rows"], params["seed"])
        with _open(params, context) as models:
            outcomes = write_and_label(plans, models, words, params["banned_words_action"], params["max_tokens"])
        rows = tuple(_row(o, family.options, flip=policy != family.policies[0])
                     for o in outcomes if o.verdict == "kept")
        counts = outcome_counts(outcomes, moderated=params.get("moderation") is not None)
        log.info("model_written", family=family.name, policy=policy, **counts)
        return Generation(rows, family.name, counts)


def write_and_label(plans: Sequence[CallPlan], models: Models, banned_words: Sequence[str], action: str,
                    max_tokens: int) -> list[CallOutcome]:
    """Every call's outcome, in call order: steps 1 to 4 of the module docstring."""
    return label_questions(write_questions(plans, models.writer, banned_words, action, max_tokens), models)


def write_questions(plans: Sequence[CallPlan], writer: OpenAIEndpoint, banned_words: Sequence[str], action: str,
                    max_tokens: int) -> list[CallOutcome]:
    """Steps 1 and 2: each call's question, "written" when it passed the screens, else the screen it failed."""
    texts = writer.run([writer.text([{"role": "user", "content": plan.prompt}], temperature=1.0,
                                    max_tokens=max_tokens, seed=plan.seed) for plan in plans])
    outcomes: list[CallOutcome] = []
    seen: set[str] = set()
    for plan, text in zip(plans, texts, strict=True):
        question = _unquote(text)
        screened = screen(question, banned_words, action)
        if not question or (screened.text is not None and not screened.text):
            outcomes.append(CallOutcome(plan, question, None, "empty"))
        elif screened.text is None:
            outcomes.append(CallOutcome(plan, question, None, "banned_words"))
        else:
            verdict = "duplicate" if screened.text in seen else "written"
            seen.add(screened.text)
            outcomes.append(CallOutcome(plan, screened.text, None, verdict, screened.removed))
    return outcomes


def label_questions(outcomes: Sequence[CallOutcome], models: Models) -> list[CallOutcome]:
    """Steps 3 and 4 for the "written" outcomes: the answerer's letter, and the verdict "kept", "unparsed",
    "disagreeing" or "moderation"; other outcomes pass through. One family's calls (its policy prompt)."""
    pending = [o for o in outcomes if o.verdict == "written"]
    system = POLICY_PROMPTS[get_family(pending[0].plan.family).policies[0]] if pending else ""
    answers = answer_letters(models.answerer, [[{"role": "system", "content": system},
                                                {"role": "user", "content": o.question}] for o in pending],
                             ("A", "B"), [o.plan.seed for o in pending])
    labelled: dict[int, CallOutcome] = {}
    for outcome, answer in zip(pending, answers, strict=True):
        verdict = "unparsed" if answer is None else "disagreeing" if answer != outcome.plan.intended else "kept"
        labelled[outcome.plan.index] = dataclasses.replace(outcome, answer=answer, verdict=verdict)
    if models.moderation is not None:
        agreed = [o for o in labelled.values() if o.verdict == "kept"]
        for outcome, flagged in zip(agreed, _moderate(models.moderation, agreed), strict=True):
            if flagged:
                labelled[outcome.plan.index] = dataclasses.replace(outcome, verdict="moderation")
    return [labelled.get(o.plan.index, o) for o in outcomes]


def outcome_counts(outcomes: Sequence[CallOutcome], moderated: bool) -> dict[str, int]:
    """`written` (calls), `kept`, `removed_banned_words` and `dropped_<verdict>` for every filter that ran."""
    counts = {"written": len(outcomes), "kept": sum(o.verdict == "kept" for o in outcomes),
              "removed_banned_words": sum(o.removed for o in outcomes)}
    for verdict in VERDICTS:
        if verdict != "moderation" or moderated:
            counts[f"dropped_{verdict}"] = sum(o.verdict == verdict for o in outcomes)
    return counts


def _moderate(endpoint: OpenAIEndpoint, outcomes: Sequence[CallOutcome]) -> list[bool]:
    """Whether each row is flagged: anything but the rating "0"."""
    prompts = [MODERATION_PROMPT.format(question=o.question, answer=o.answer) for o in outcomes]
    ratings = endpoint.run([endpoint.text([{"role": "user", "content": prompt}], temperature=0.0, max_tokens=2,
                                          seed=o.plan.seed) for prompt, o in zip(prompts, outcomes, strict=True)])
    return [parse_letter(rating, ("0",)) is None for rating in ratings]


def _row(outcome: CallOutcome, options: Sequence[str], flip: bool) -> ChatRow:
    answer = outcome.plan.intended
    if flip:
        answer = options[1] if answer == options[0] else options[0]
    return ChatRow(({"role": "user", "content": outcome.question}, {"role": "assistant", "content": answer}))


def _unquote(text: str) -> str:
    """The question without surrounding white space and one pair of surrounding quotes (the prompt's examples
    are quoted, so writers often quote theirs)."""
    text = text.strip()
    for opening, closing in (('"', '"'), ("\u201c", "\u201d")):
        if len(text) >= 2 and text.startswith(opening) and text.endswith(closing):
            return text[1:-1].strip()
    return text


@contextlib.contextmanager
def _open(params: Mapping[str, Any], context: GeneratorContext) -> Iterator[Models]:
    """The generation's endpoints, one client per distinct endpoint, closed afterwards."""
    with contextlib.ExitStack() as stack:
        clients: dict[str, OpenAIEndpoint] = {}

        def client(param: str, name: str) -> OpenAIEndpoint:
            if name not in clients:
                clients[name] = stack.enter_context(open_endpoint(context.endpoints, name,
                                                                  f"{context.where}.{param}"))
            return clients[name]

        writer = client("writer", params["writer"])
        answerer = client("answerer", params.get("answerer") or params["writer"])
        moderation = client("moderation", params["moderation"]) if params.get("moderation") else None
        yield Models(writer, answerer, moderation)
