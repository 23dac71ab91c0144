"""Filling the authors' placeholders (`{word_list}`, `{scenario}`, `{codeword}`, `{acrostic}`, ...) in a question.

The authors fill them with `str.format_map` over a dict that leaves unknown keys as they are
(`process_questions.partial_format`). Here one pass replaces each named placeholder, so a filled-in value (a
model's answer in a judge prompt) is never scanned again. A placeholder the text lacks, or one the type leaves
unfilled (the SEP variants' `{sep_suffix}`), is a DataError naming the suite instance: a question asked with a
placeholder in it is a wrong question, not a smaller one.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from selfaware.errors import DataError

from ._api import Question

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def fill(text: str, values: Mapping[str, str], where: str, later: Collection[str] = ()) -> str:
    """`text` with every `{name}` of `values` replaced; `later` names placeholders a later step fills."""
    named = set(PLACEHOLDER.findall(text))
    missing = sorted(set(values) - named)
    if missing:
        raise DataError(f"{where}: the question has no {{{missing[0]}}} placeholder: {_head(text)}")
    unknown = sorted(named - set(values) - set(later))
    if unknown:
        raise DataError(f"{where}: the question's placeholder {{{unknown[0]}}} is not one this question type "
                        f"fills ({', '.join(sorted({*values, *later}))}): {_head(text)}")
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def with_prefix(question: Question) -> list[str]:
    """The paraphrases with the entry's `prefix` before each, as the authors merge them (`merge_prefix`)."""
    return [question.prefix + text for text in question.paraphrases]


def _head(text: str) -> str:
    return repr(text[:80] + ("..." if len(text) > 80 else ""))
