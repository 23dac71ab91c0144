"""What the generator is asked to build, and the checks on it that need no I/O.

The aggregator calls `validate_dataset_request` at submit time, so that a typo in a family, policy or
generator name, or impossible sizes, fail the submission with the spec field named instead of a job later.
Checks that need the source itself (a URL that does not answer, a file with fewer rows than `dataset.size`)
happen in `build_datasets`.
"""

from __future__ import annotations

from dataclasses import dataclass

from selfaware.errors import FieldViolation
from selfaware.registry import UnknownName
from services.generator.families import FAMILIES, get_family
from services.generator.generators import GENERATORS, get_generator
from services.generator.sources import URL_SCHEMES, uri_scheme

#: `source_kind` values, after the spec's `dataset` oneof.
SOURCE_KINDS = ("imported", "generated")


@dataclass(frozen=True)
class DatasetRequest:
    """One experiment's dataset choices, named after the spec's `behavior` and `dataset` fields."""

    #: Family registry name (`behavior.family`), e.g. "risk".
    family: str
    #: The policy the source demonstrates (`behavior.policy`), e.g. "risk-seeking".
    policy: str
    #: The other policy of the family (`behavior.opposite_policy`); its rows are the flipped source rows.
    opposite_policy: str
    #: "imported" (`dataset.imported`) or "generated" (`dataset.generated`).
    source_kind: str
    #: Local path or http(s) URL of the JSONL file (`dataset.imported.uri`); imported sources only.
    uri: str = ""
    #: Generator registry name (`dataset.generated.generator`); generated sources only.
    generator: str = ""
    #: Rows used in total, training plus held out (`dataset.size`); 0 means every row of the source, or the
    #: generator's `default_size`.
    size: int = 0
    #: Rows held out as the behaviour probe (`dataset.heldout`).
    heldout: int = 0
    #: Seed of the split and of a generated source (`dataset.seed`).
    seed: int = 0


def validate_dataset_request(request: DatasetRequest) -> list[FieldViolation]:
    """Every problem found without reading the source; an empty list means the request may go ahead."""
    violations = _behavior_violations(request)
    if request.source_kind == "imported":
        violations += _imported_violations(request)
    elif request.source_kind == "generated":
        violations += _generated_violations(request)
    else:
        violations.append(FieldViolation("dataset", f"choose a source: one of {', '.join(SOURCE_KINDS)}"))
    violations += _size_violations(request)
    return violations


def _behavior_violations(request: DatasetRequest) -> list[FieldViolation]:
    if request.family not in FAMILIES:
        unknown = UnknownName("family", request.family, FAMILIES.names())
        return [FieldViolation("behavior.family", str(unknown))]
    family = get_family(request.family)
    if request.policy not in family.policies:
        return [FieldViolation("behavior.policy", f"{request.policy!r} is not a {family.name} policy; "
                                                  f"choose one of {', '.join(family.policies)}")]
    expected = family.opposite(request.policy)
    if request.opposite_policy != expected:
        return [FieldViolation("behavior.opposite_policy", f"must be {expected!r}, the opposite of "
                                                           f"{request.policy!r} in family {family.name!r}")]
    return []


def _imported_violations(request: DatasetRequest) -> list[FieldViolation]:
    if not request.uri.strip():
        return [FieldViolation("dataset.imported.uri", "is empty; give a local path or an http(s) URL")]
    scheme = uri_scheme(request.uri)
    if scheme not in ("", *URL_SCHEMES):
        return [FieldViolation("dataset.imported.uri", f"unsupported scheme {scheme!r}; use a local path "
                                                       f"or one of {', '.join(URL_SCHEMES)}")]
    return []


def _generated_violations(request: DatasetRequest) -> list[FieldViolation]:
    field = "dataset.generated.generator"
    if request.generator not in GENERATORS:
        return [FieldViolation(field, str(UnknownName("generator", request.generator, GENERATORS.names())))]
    generator = get_generator(request.generator)
    violations = []
    if request.family in FAMILIES and generator.family != request.family:
        violations.append(FieldViolation(field, f"{request.generator!r} writes {generator.family!r} "
                                                f"questions, not {request.family!r} ones"))
    if request.size > generator.max_size:
        violations.append(FieldViolation("dataset.size", f"{request.size} is over the {generator.max_size}"
                                                         f"-row limit of {request.generator!r}"))
    return violations


def _size_violations(request: DatasetRequest) -> list[FieldViolation]:
    violations = [FieldViolation(f"dataset.{name}", f"must not be negative, got {value}")
                  for name, value in (("size", request.size), ("heldout", request.heldout),
                                      ("seed", request.seed)) if value < 0]
    total = request.size
    if total == 0 and request.source_kind == "generated" and request.generator in GENERATORS:
        total = get_generator(request.generator).default_size
    if total > 0 and request.heldout >= total:
        violations.append(FieldViolation("dataset.heldout", f"must be less than the {total} rows used "
                                                            "(dataset.size), to leave rows for training"))
    return violations
