"""The generator's catalogue lists every registered part with its parameters, and completes recipes."""

from __future__ import annotations

from pathlib import Path

from selfaware.catalogue import complete
from selfaware.params import struct_to_dict
from selfaware.specs import spec_from_dict
from selfaware.v1 import catalogue_pb2 as cat
from services.generator.catalogue import catalogue
from services.generator.families import FAMILIES
from services.generator.generators import GENERATORS, get_generator
from services.generator.steps import STEPS, get_step

from .conftest import Complete


def _entries() -> dict[tuple[str, str], cat.Capability]:
    published = catalogue()
    assert published.service == "generator" and published.version
    return {(entry.kind, entry.name): entry for entry in published.capabilities}


def test_every_source_step_generator_and_family_is_listed_with_its_params() -> None:
    entries = _entries()
    assert sorted(name for kind, name in entries if kind == "source") == ["generate", "import", "of"]
    assert sorted(name for kind, name in entries if kind == "step") == STEPS.names()
    assert {"filter", "flip", "mix", "sample", "answer", "truncate", "backdoor", "decorrelate", "trigger_mix",
            "reverse", "system_persona", "persona_reword"} <= set(STEPS.names())
    for name in STEPS.names():
        entry, step = entries[("step", name)], get_step(name)
        assert [p.name for p in entry.params] == [p.name for p in step.params]
        assert entry.shorthand == step.shorthand and entry.description == step.description
        assert entry.info["applies_to_heldout"] == str(step.applies_to_heldout).lower()
    assert sorted(name for kind, name in entries if kind == "generator") == GENERATORS.names()
    for name in GENERATORS.names():
        entry = entries[("generator", name)]
        assert [p.name for p in entry.params] == [p.name for p in get_generator(name).params]
        assert entry.info["families"] == ",".join(get_generator(name).families)
    assert entries[("generator", "model-written")].info["families"] == "risk,myopia,apples"
    assert sorted(name for kind, name in entries if kind == "family") == FAMILIES.names()
    risk = dict(entries[("family", "risk")].info)
    assert risk == {"policies": "risk-seeking,risk-averse", "options": "A,B"}


def test_declared_defaults_bounds_and_shorthands() -> None:
    entries = _entries()
    sample = {p.name: p for p in entries[("step", "sample")].params}
    assert entries[("step", "sample")].shorthand == "rows"
    assert not sample["rows"].HasField("default") and sample["seed"].default.number_value == 0
    mix = {p.name: p for p in entries[("step", "mix")].params}
    assert mix["of"].type == "arm" and mix["rows"].default.number_value == 0
    gambles = {p.name: p for p in entries[("generator", "procedural-gambles")].params}
    assert (gambles["rows"].default.number_value, gambles["rows"].max) == (288, 100_000)
    assert list(gambles["policy"].choices) == ["risk-seeking", "risk-averse"]
    assert gambles["policy"].default.string_value == "risk-seeking"


def test_completion_fills_step_and_generator_defaults(completed: Complete, risky_path: Path) -> None:
    spec = completed({"arms": {
        "a": {"data": {"import": str(risky_path), "steps": [{"sample": 32}, "flip"]}},
        "g": {"data": {"generate": "procedural-gambles"}}}})
    sample, flip = spec.arms[0].data.steps
    assert struct_to_dict(sample.params) == {"rows": 32, "seed": 0} and not sample.HasField("value")
    assert struct_to_dict(flip.params) == {"share": 1, "seed": 0}
    generated = struct_to_dict(spec.arms[1].data.generate.params)
    assert generated == {"rows": 288, "policy": "risk-seeking", "seed": 0}


def test_completion_names_bad_recipe_fields(risky_path: Path) -> None:
    spec = spec_from_dict({"arms": {
        "a": {"data": {"import": str(risky_path), "steps": [{"sample": 0}, "flop", {"mix": {"of": "z"}}]}},
        "g": {"data": {"generate": "procedural-gambles", "params": {"rows": 10**6, "policy": "risky"}}}}})
    _, bad = complete(spec, [catalogue()])
    fields = {v.field for v in bad}
    assert {"arms.a.data.steps[0].sample.rows", "arms.a.data.steps[1]", "arms.a.data.steps[2].mix.of",
            "arms.g.data.params.rows", "arms.g.data.params.policy"} <= fields
