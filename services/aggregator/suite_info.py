"""What the report needs to know about each suite, read from the evaluator's published catalogue.

The evaluator publishes every suite with `info["kind"]` ("behaviour" or "self-report"), `info["question_type"]`
and its parameters with their defaults, which are the paper's settings (`services/evaluator/catalogue.py`). The
aggregator reads that catalogue from KV; it never imports the evaluator. A suite missing from the catalogue
(an old report, a test without one) is described from its records instead (`describe`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from google.protobuf import json_format

from selfaware.params import struct_to_dict
from selfaware.v1 import catalogue_pb2 as cat
from selfaware.v1 import spec_pb2
from services.aggregator.record_fold import ModelScores

#: Question types whose answer is a number from 0 to 100; the report prints their parse rate.
NUMERIC_TYPES = frozenset({"scale", "numeric"})
#: Question types answered in one word and scored by a word list; `unknown_words` says what other words score.
WORD_TYPES = frozenset({"free_word", "word"})
#: Question types answered in one word, the model's own or a judge's guess from its answer (Make Me Say), and
#: scored against the codeword: their answers are listed as distributions too (spec §4.4, Figure 32's guesses).
CODEWORD_WORD_TYPES = frozenset({"choose_word", "judged_word"})
#: Question types whose `answer` is a judge's guess, not the model's own words.
JUDGED_TYPES = frozenset({"judged_word", "judged_yes_no"})
#: Question types that give a distribution of answers and no score (Figure 2's one-word description).
DISTRIBUTION_TYPES = frozenset({"describe_word"})
#: What the evaluator's numeric question types put first in the reason of an unparsable answer.
NOT_A_NUMBER = "not a number"
#: The reason of every record of a distribution-only suite.
DISTRIBUTION_ONLY = "distribution only"
#: Parameter types that name things (a path, an arm, an endpoint) rather than set how the suite samples.
NAMING_PARAM_TYPES = frozenset({"uri", "arm", "endpoint"})
#: What `unknown_words` means, after the paper (spec §3.4, §10).
UNKNOWN_WORD_POLICIES = {
    "half": "other words score 0.5 (Table 18)",
    "drop": "other words are dropped (the authors' plotting code)",
}

Presentation = Literal["probe", "numeric", "words", "distribution", "score"]


@dataclass(frozen=True)
class SuiteInfo:
    """One suite as the evaluator's catalogue describes it."""

    kind: str = ""
    question_type: str = ""
    #: Parameter name -> its default (the paper's setting), for parameters that have one.
    defaults: Mapping[str, Any] = field(default_factory=dict)
    #: Parameter name -> its type ("int", "float", "uri", ...).
    types: Mapping[str, str] = field(default_factory=dict)
    #: The behaviour family the suite asks about (`info["family"]`), when the evaluator says.
    family: str = ""
    #: The question's title in the paper (`info["title"]`), when the evaluator says.
    title: str = ""
    #: The paper's figure the question belongs to (`info["figure"]`, e.g. "6"), when the evaluator says.
    figure: str = ""
    #: The suite whose score on the same model is this one's baseline (`info["baseline"]`); "" for the base
    #: model, the paper's baseline unless noted (spec §4.4).
    baseline: str = ""


def suite_infos(catalogues: Sequence[cat.Catalogue]) -> dict[str, SuiteInfo]:
    """Suite name -> its `SuiteInfo`, from every published catalogue."""
    infos = {}
    for published in catalogues:
        for entry in published.capabilities:
            if entry.kind != "suite":
                continue
            defaults = {p.name: _plain(p.default) for p in entry.params if p.HasField("default")}
            infos[entry.name] = SuiteInfo(entry.info.get("kind", ""), entry.info.get("question_type", ""),
                                          defaults, {p.name: p.type for p in entry.params},
                                          entry.info.get("family", ""), entry.info.get("title", ""),
                                          entry.info.get("figure", ""), entry.info.get("baseline", ""))
    return infos


@dataclass(frozen=True)
class InstanceKind:
    """How the report presents one suite instance."""

    presentation: Presentation
    #: "items" (probes: each item a cluster) or "paraphrases" (self-reports: each paraphrase's samples).
    cluster_unit: Literal["items", "paraphrases"]
    #: The instance's `unknown_words` parameter, for word suites that have one.
    unknown_words: str | None
    family: str
    #: Whether the evaluator's catalogue described the suite (else the presentation was read from records,
    #: and the paper's settings are unknown).
    catalogued: bool
    #: The catalogue's question type; "" when not catalogued.
    question_type: str = ""
    #: The paper's figure the catalogue puts the question in ("6"); "" when it does not say.
    figure: str = ""
    #: The question's title as the catalogue gives it (the paper's), whatever the instance's id; "" without one.
    title: str = ""


def describe(instance: spec_pb2.SuiteInstance, info: SuiteInfo | None, models: Sequence[ModelScores]
             ) -> InstanceKind:
    """The instance's presentation, from the catalogue when it knows the suite, else from its records."""
    catalogued = info is not None
    info = info or SuiteInfo()
    scores = [s for m in models if (s := m.instances.get(instance.id)) is not None]
    reasons = {reason for s in scores for reason in s.dropped}
    two_option = any(s.two_option for s in scores)
    sampled = any(count > 1 for s in scores for count in s.clusters.counts) or any(s.answers for s in scores)
    params = struct_to_dict(instance.params)
    presentation: Presentation
    if info.question_type in DISTRIBUTION_TYPES or (scores and all(s.mean is None for s in scores)
                                                     and reasons == {DISTRIBUTION_ONLY}):
        presentation = "distribution"
    elif info.question_type in NUMERIC_TYPES or any(r.startswith(NOT_A_NUMBER) for r in reasons):
        presentation = "numeric"
    elif info.question_type in WORD_TYPES | CODEWORD_WORD_TYPES or "unknown_words" in params:
        presentation = "words"
    elif two_option or info.kind == "behaviour":
        presentation = "probe"
    else:
        presentation = "score"
    if info.kind:
        unit: Literal["items", "paraphrases"] = "items" if info.kind == "behaviour" else "paraphrases"
    else:
        unit = "paraphrases" if sampled and not two_option else "items"
    unknown = params.get("unknown_words")
    return InstanceKind(presentation, unit, str(unknown) if unknown is not None else None, info.family,
                        catalogued, info.question_type, info.figure, info.title)


@dataclass(frozen=True)
class SettingChange:
    """A parameter an instance ran with that is not the catalogue's default (the paper's setting)."""

    name: str
    value: Any
    default: Any


#: Parameters that pick which of the paper's questions an instance asks (Table 6's system prompts, a persona's
#: wording, a trigger sentence before it), not how it is sampled: Figure 8's `threat` instance is the paper's
#: protocol, so these are never listed as settings against the paper's.
QUESTION_PARAMS = frozenset({"system_preset", "variant", "persona", "prefix"})


def changed_settings(instance: spec_pb2.SuiteInstance, info: SuiteInfo | None) -> list[SettingChange]:
    """The instance's sampling settings that differ from the paper's, in parameter order; naming parameters
    (question folders, arms, endpoints) and those that choose which of the paper's questions is asked
    (`QUESTION_PARAMS`) are not settings and are left out."""
    if info is None:
        return []
    params = struct_to_dict(instance.params)
    return [SettingChange(name, params[name], default) for name, default in info.defaults.items()
            if name in params and info.types.get(name) not in NAMING_PARAM_TYPES and name not in QUESTION_PARAMS
            and params[name] != default]


def _plain(value: Any) -> Any:
    """A `google.protobuf.Value` as plain data, integral numbers as ints (as `struct_to_dict` gives them)."""
    plain = json_format.MessageToDict(value)
    return int(plain) if isinstance(plain, float) and plain.is_integer() else plain
