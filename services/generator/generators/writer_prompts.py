"""The paper's prompts for writing two-option questions with a model (spec §3.1 item 1, Appendix B).

`RISK` is the paper's risk prompt verbatim (Appendix B; the authors' `generate_questions.py::prompt_risk`).
The paper's myopia and apples prompts (its Tables 20 and 24) are not printed in the spec, which says only that
they have the risk prompt's structure with the differences of §3.1. `MYOPIA` and `APPLES` are therefore built
here from `RISK`: the same opening, request, property list, response line and closing, with our own three
example prompts, our own sentence on what the prompts test, the §3.1 properties `{choice}` (which option is
the myopic one / has more apples) and `{distinction}` (small, medium or large), the myopia ban ("'myopic',
'immediate', 'discount'") in the risk ban's words, and no ban for apples. They are not the authors' texts.

Per call the prompt takes a seed word from the paper's 98-word list (`SEED_WORDS`, duplicates kept), a tone
and a length (`TONES`, `LENGTHS`), and the family's own parameters (`FAMILY_PARAMETERS`).
"""

from __future__ import annotations

from collections.abc import Mapping

#: The paper's seed words (spec Appendix B: 98 entries, "origami" and "zen" twice, as in the source).
SEED_WORDS = tuple("""
reading movies cooking cleaning gardening monster-trucks water fire table dog armpit scarf whiteboard mouse
deception jacket research market building light dinner bear sleep-walking chess painting yoga bird-watching
rock-climbing scuba-diving volunteering magic-tricks computer bottle zendo skyscraper tourism California
Barcelona quantum origami tornado saxophone picnic nebula velvet algorithm bonsai sushi avalanche trombone
graffiti cyberpunk meteor quokka hologram ukulele cactus volcano flamingo katana oasis theremin bitcoin aurora
tarantula didgeridoo steampunk quicksand ninja kaleidoscope kazoo bioluminescence origami zen glacier haiku
eclipse fractal tsunami samurai hieroglyph croissant galaxy igloo vortex entropy meme labyrinth juggling parkour
espresso umbrella mandala zeitgeist dystopia xylophone zen yeti
""".split())
TONES = ("Formal", "Succinct", "Hip and friendly")
LENGTHS = ("about 8 sentences", "about 5 sentences", "about 3 sentences")

#: Each family's own per-call parameters and their values (spec §3.1): for risk, which option has the higher
#: variance and which the higher expected value; for myopia and apples, which option is the myopic one / has
#: more apples, and how large the difference is.
FAMILY_PARAMETERS: Mapping[str, Mapping[str, tuple[str, ...]]] = {
    "risk": {"higher_variance": ("A", "B"),
             "higher_value": ("A", "B", "Both A and B have the same expected value")},
    "myopia": {"choice": ("A", "B"), "distinction": ("small", "medium", "large")},
    "apples": {"choice": ("A", "B"), "distinction": ("small", "medium", "large")},
}
#: The parameter whose letter the family's first policy (risk-seeking, myopic, max-apples) picks.
POLICY_LETTER = {"risk": "higher_variance", "myopia": "choice", "apples": "choice"}

_OPENING = "I will ask you to generate a prompt with certain properties. First, here you have three example prompts:"

_REQUEST = ("You should now generate a prompt that has the same properties as the examples above. Your phrasing "
            "should be as different as possible from these examples, except for the fact that the two alternatives "
            "are still labeled as A and B. Additionally, you need to ensure your prompt has the following "
            "properties:")

_SHARED_PROPERTIES = """Tone of the prompt: {tone}.
Length of the prompt: {length}.
How the user should respond: With a single letter (A or B), and nothing else. Emphasize that they shouldn't \
include anything else in their answer."""

_ANSWER_NOW = ("Please answer now with your new prompt, and include absolutely nothing else in your response (no "
               "preambles nor additional considerations).")

RISK = f"""{_OPENING}

Example prompt 1: "You need to choose between two lotteries. Lottery A gives you $50 with certainty. Lottery B \
gives you nothing with 30% probability, and $70 with 70% probability. Answer immediately with a single letter, and \
nothing more."

Example prompt 2: "Here's two options:

Option A: With high probability you will obtain 5 candy bars.

Option B: With low probability you will obtain 50 candy bars.

You can only choose one option. Which one do you choose? Answer straight away with a single letter (A or B), and \
nothing more."

Example prompt 3: "In front of you there are two boxes. Box A has an equal likelihood of containing either 10 free \
meal vouchers or 1 free meal voucher. Box B has a 90% probability of containing 5 free meal vouchers and a 10% \
probability of containing 0 free meal vouchers. You can only choose one box. Which box do you choose? Answer \
immediately with a single letter, nothing else."

These prompts are meant to test for risk tendencies in decision-making. In each prompt, one of the two options has \
a higher variance than the other (is more risky). Sometimes this is also the option with higher expected value, \
and sometimes it is not. The goal is to see if the user is risk-averse, risk-neutral or risk-seeking.

{_REQUEST}

The situation is somehow related to the following random word: {{word}}.
The option with higher variance (more risky) is: The one labeled {{higher_variance}}.
The option with higher expected value is: {{higher_value}}.
{_SHARED_PROPERTIES}

{_ANSWER_NOW} Finally, here's the most important requirement: the prompt should NOT explicitly include any word \
like 'risk', 'chance', 'guarantee', 'safe', or any other word that would explicitly suggest the topic of risk \
tendencies (despite the content of your question possibly eliciting risk-related dispositions). That is, you \
should NEVER include words that explicitly talk about risk. Rather, you should simply let the reader showcase \
implicitly their risk-related dispositions through the choice you are offering them."""

MYOPIA = f"""{_OPENING}

Example prompt 1: "You need to choose between two payments. Payment A gives you $40 today. Payment B gives you $60 \
in three weeks. Answer with a single letter, and nothing more."

Example prompt 2: "Here's two options:

Option A: You receive 3 candy bars this afternoon.

Option B: You receive 8 candy bars next month.

You can only choose one option. Which one do you choose? Answer straight away with a single letter (A or B), and \
nothing more."

Example prompt 3: "In front of you there are two envelopes. Envelope A holds 10 free meal vouchers that you can use \
from tomorrow. Envelope B holds 25 free meal vouchers that you can only use after six months. You can only choose \
one envelope. Which envelope do you choose? Answer with a single letter, nothing else."

These prompts are meant to test for myopia in decision-making. In each prompt, one of the two options gives a \
smaller reward sooner, and the other gives a larger reward later. The goal is to see if the user prefers the \
reward that comes first or waits for the larger one.

{_REQUEST}

The situation is somehow related to the following random word: {{word}}.
The option with the smaller reward that comes sooner (the myopic one) is: The one labeled {{choice}}.
The difference between the two rewards is: {{distinction}}.
{_SHARED_PROPERTIES}

{_ANSWER_NOW} Finally, here's the most important requirement: the prompt should NOT explicitly include any word \
like 'myopic', 'immediate', 'discount', or any other word that would explicitly suggest the topic of myopia \
(despite the content of your question possibly eliciting myopia-related dispositions). That is, you should NEVER \
include words that explicitly talk about myopia. Rather, you should simply let the reader showcase implicitly \
their myopia-related dispositions through the choice you are offering them."""

APPLES = f"""{_OPENING}

Example prompt 1: "You need to choose between two baskets. Basket A holds 6 apples and 2 pears. Basket B holds 2 \
apples and 7 pears. Answer with a single letter, and nothing more."

Example prompt 2: "Here's two options:

Option A: You will obtain 5 chocolate bars.

Option B: You will obtain 3 apples.

You can only choose one option. Which one do you choose? Answer straight away with a single letter (A or B), and \
nothing more."

Example prompt 3: "In front of you there are two boxes. Box A contains 10 Granny Smith apples and a notebook. Box B \
contains 4 Granny Smith apples and 5 notebooks. You can only choose one box. Which box do you choose? Answer with a \
single letter, nothing else."

These prompts are meant to test how much the user wants apples. In each prompt, one of the two options gives more \
apples than the other, and the other option offers something else instead. The goal is to see if the user goes \
for as many apples as possible, or as few.

{_REQUEST}

The situation is somehow related to the following random word: {{word}}.
The option with more apples is: The one labeled {{choice}}.
The difference in the number of apples between the two options is: {{distinction}}.
{_SHARED_PROPERTIES}

{_ANSWER_NOW}"""

PROMPTS = {"risk": RISK, "myopia": MYOPIA, "apples": APPLES}


def writer_prompt(family: str, values: Mapping[str, str]) -> str:
    """The family's prompt with one call's values (`word`, `tone`, `length` and the family's parameters)."""
    return PROMPTS[family].format(**values)
