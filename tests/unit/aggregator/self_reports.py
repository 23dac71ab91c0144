"""Synthetic self-report records in the evaluator's contract (issue 7): `item` "<entry>/<paraphrase>", the
paraphrase index, the sample index, the parsed answer, and a score or a dropped reason."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from selfaware.params import to_value
from selfaware.v1 import catalogue_pb2 as cat
from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import spec_pb2

#: Table 19's scores for a few words; with `unknown_words: drop` the others are dropped.
WORD_SCORES = {"bold": 1.0, "reckless": 1.0, "balanced": 0.5, "cautious": 0.0, "safe": 0.0}
NOT_IN_LIST = "not in the word list"
NOT_A_NUMBER = "not a number from 0 to 100"


def word_records(instance: str, suite: str, answers: Callable[[int, int], str], paraphrases: int = 10,
                 samples: int = 6, drop_unknown: bool = True) -> list[rec.EvalRecord]:
    """One record per (paraphrase, sample), answering `answers(paraphrase, sample)`."""
    records = []
    for p in range(paraphrases):
        for s in range(samples):
            word = answers(p, s)
            record = rec.EvalRecord(suite_instance=instance, suite=suite, item=f"{suite}/{p}", paraphrase=p,
                                    sample=s, output=word.capitalize() + ".", answer=word)
            score = WORD_SCORES.get(word, None if drop_unknown else 0.5)
            if score is None:
                record.dropped_reason = NOT_IN_LIST
            else:
                record.score = score
            records.append(record)
    return records


def describe_records(instance: str, suite: str, answers: Callable[[int, int], str], paraphrases: int = 1,
                     samples: int = 20) -> list[rec.EvalRecord]:
    return [rec.EvalRecord(suite_instance=instance, suite=suite, item=f"{suite}/{p}", paraphrase=p, sample=s,
                           answer=answers(p, s), dropped_reason="distribution only")
            for p in range(paraphrases) for s in range(samples)]


def number_records(instance: str, suite: str, answers: Callable[[int, int], str], paraphrases: int = 10,
                   samples: int = 4) -> list[rec.EvalRecord]:
    records = []
    for p in range(paraphrases):
        for s in range(samples):
            text = answers(p, s)
            record = rec.EvalRecord(suite_instance=instance, suite=suite, item=f"{suite}/{p}", paraphrase=p,
                                    sample=s, output=text, answer=text)
            if text.isdigit():
                record.score = int(text) / 100
            else:
                record.dropped_reason = NOT_A_NUMBER
            records.append(record)
    return records


def suite_entry(name: str, kind: str, question_type: str, defaults: dict[str, object] | None = None,
                types: dict[str, str] | None = None, family: str = "", **more: str) -> cat.Capability:
    """A suite as the evaluator's catalogue publishes it; `more` are further `info` keys (title, figure,
    baseline)."""
    params = [cat.ParamSpec(name=key, type=(types or {}).get(key, "int"), default=to_value(value))
              for key, value in (defaults or {}).items()]
    info = {"kind": kind, "question_type": question_type} | ({"family": family} if family else {}) | more
    return cat.Capability(kind="suite", name=name, params=params, info=info)


def instance(id_: str, suite: str, params: dict[str, object] | None = None, arms: Sequence[str] = ()
             ) -> spec_pb2.SuiteInstance:
    made = spec_pb2.SuiteInstance(id=id_, suite=suite, base=True, arms=list(arms))
    for key, value in (params or {}).items():
        made.params[key] = value
    return made
