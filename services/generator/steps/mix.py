"""`mix`: add rows from another arm (after its steps) or from a file, e.g. a share of the opposite policy's
answers, or general instruction data (the paper's Alpaca half of the trigger-elicitation set, spec §6.3).

A file is OpenAI chat JSONL, Alpaca JSONL (`{instruction, input, output}` per line: the user message is the
instruction, then the input after a blank line when there is one; the answer is the output), or a JSON array of
such objects, the shape of the Alpaca release itself (`alpaca_data.json`). How many rows are
added: all of them, `rows`, or enough to be `share` of the result.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from selfaware.errors import DataError, SpecError
from selfaware.params import Param
from selfaware.sources import read_uri
from services.generator.chat_jsonl import ChatRow, parse_chat_jsonl
from services.generator.steps.base import StepContext, choose_rows, rows_for_share, step

#: An Alpaca row's keys: the ones it must have, and the one it may.
ALPACA_KEYS = ("instruction", "output")
ALPACA_OPTIONAL = "input"

PARAMS = (
    Param("of", "arm", "The arm whose training rows are added (it is built first); unset: give source",
          default=None),
    Param("source", "uri", "A chat JSONL or Alpaca JSONL file whose rows are added, instead of an arm's",
          default=None),
    Param("rows", "int", "Rows to add, chosen at random (seeded); 0 adds all of them", default=0, min=0),
    Param("share", "float", "Instead of rows: the added rows' share of the result (0: use rows)", default=0.0,
          min=0, max=0.99),
    Param("seed", "int", "Seed of the choice", default=0, min=0),
)


@step("mix", "Append rows of another arm, after its steps, or of a chat or Alpaca JSONL file: all, `rows` or a "
             "`share` of the result, in their order (training rows only)", PARAMS, shorthand="of")
def mix(rows: Sequence[ChatRow], params: Mapping[str, Any], context: StepContext) -> list[ChatRow]:
    if (params.get("of") is None) == (params.get("source") is None):
        raise SpecError.single(context.where, "give exactly one of of (an arm) and source (a file)")
    name = f"arm {params['of']!r}" if params.get("of") else f"source {params['source']!r}"
    other = context.arms[params["of"]] if params.get("of") else source_rows(params["source"], context.options)
    seed = f"mix/{params['seed']}"
    if params["share"]:
        return [*rows, *rows_for_share(other, len(rows), params["share"], seed, f"{context.where}.share", name)]
    count = params["rows"] or len(other)
    if count > len(other):
        raise SpecError.single(f"{context.where}.rows", f"asks for {count} rows, but {name} has only "
                                                         f"{len(other)} training rows")
    return [*rows, *choose_rows(other, count, seed)]


def source_rows(uri: str, options: Sequence[str]) -> tuple[ChatRow, ...]:
    """The rows of a chat JSONL, an Alpaca JSONL (by its first line's keys) or an Alpaca JSON array file; a bad line
    or item is a `DataError` naming the uri, line (or index) and key."""
    data = read_uri(uri)
    text = data.decode("utf-8-sig")
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(f"{uri}: invalid JSON array ({err.msg} at line {err.lineno})") from None
        return tuple(_alpaca_row(json.dumps(item), f"{uri}[{index}]", index) for index, item in enumerate(items))
    lines = [(number, line) for number, line in enumerate(text.split("\n"), start=1)
             if line.strip()]
    if not lines or '"messages"' in lines[0][1]:
        return parse_chat_jsonl(data, uri, options).rows
    return tuple(_alpaca_row(line, f"{uri}:{number}", index) for index, (number, line) in enumerate(lines))


def _alpaca_row(line: str, where: str, index: int) -> ChatRow:
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as err:
        raise DataError(f"{where}: invalid JSON ({err.msg} at column {err.colno})") from None
    if not isinstance(raw, dict):
        raise DataError(f"{where}: an Alpaca row is an object with {', '.join(ALPACA_KEYS)} (and {ALPACA_OPTIONAL})")
    for key in (*ALPACA_KEYS, ALPACA_OPTIONAL):
        value = raw.get(key, "" if key == ALPACA_OPTIONAL else None)
        if not isinstance(value, str) or (key in ALPACA_KEYS and not value.strip()):
            raise DataError(f"{where}: '{key}' must be a non-empty string" if key in ALPACA_KEYS
                            else f"{where}: '{key}' must be a string")
    user = raw["instruction"] + (f"\n\n{raw[ALPACA_OPTIONAL]}" if raw.get(ALPACA_OPTIONAL) else "")
    return ChatRow(({"role": "user", "content": user}, {"role": "assistant", "content": raw["output"]}),
                   source_index=index, location=where)
