"""What the generator offers: its recipe sources, steps, generators and families, with their parameters.

Published at start-up, so the aggregator and the CLI check a spec's recipes against this code (and fill in
its defaults) without importing the generator.
"""

from __future__ import annotations

from selfaware.catalogue import catalogue as service_catalogue
from selfaware.params import Param, capability
from selfaware.v1 import catalogue_pb2 as cat
from services.generator.families import FAMILIES, get_family
from services.generator.generators import GENERATORS, get_generator
from services.generator.steps import STEPS, get_step


def catalogue() -> cat.Catalogue:
    """The generator's catalogue, stamped with the code version and the time."""
    return service_catalogue("generator", capabilities())


def capabilities() -> list[cat.Capability]:
    """Every source, step, generator and family, in that order (each kind by name)."""
    entries = [
        capability("source", "import", "Read an OpenAI chat JSONL file: two-option rows, or free-text "
                                       "dialogues (which make no probe items)",
                   [Param("uri", "uri", "A local path or an http(s) URL")]),
        capability("source", "generate", "Run a registered generator with its parameters",
                   [Param("generator", "string", "The generator's name", choices=tuple(GENERATORS.names()))]),
        capability("source", "of", "Another arm's rows after that arm's steps, its held-out rows included",
                   [Param("arm", "arm", "The arm to start from")]),
    ]
    for name in STEPS.names():
        step = get_step(name)
        entries.append(capability("step", name, step.description, step.params, step.shorthand,
                                  {"applies_to_heldout": str(step.applies_to_heldout).lower()}))
    for name in GENERATORS.names():
        generator = get_generator(name)
        entries.append(capability("generator", name, generator.description, generator.params,
                                  info={"families": ",".join(generator.families)}))
    for name in FAMILIES.names():
        family = get_family(name)
        info = {"policies": ",".join(family.policies), "options": ",".join(family.options)}
        entries.append(capability("family", name, family.description, info=info))
    return entries
