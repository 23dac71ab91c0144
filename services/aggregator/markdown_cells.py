"""How the Markdown report writes a number, an interval or a table cell, in one place."""

from __future__ import annotations

import re

from services.aggregator.bootstrap import ConfidenceInterval


def interval(ci: ConfidenceInterval | None, digits: int = 3) -> str:
    return f"[{ci.low:.{digits}f}, {ci.high:.{digits}f}]" if ci is not None else "[—]"


def number(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def percent(share: float | None) -> str:
    return "—" if share is None else f"{share:.1%}"


def yes_no(flag: bool | None) -> str:
    return "—" if flag is None else ("yes" if flag else "no")


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def fenced(text: str, language: str) -> str:
    """`text` in a code fence longer than any backtick run inside it, so the spec can never break out."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{text.rstrip()}\n{fence}"
