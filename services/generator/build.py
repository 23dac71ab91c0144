"""The generator's one entry point: from a dataset request to both policies' training sets and the probe."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import structlog

from selfaware.errors import SpecError
from selfaware.probes import ProbeItem
from services.generator.chat_jsonl import dump_chat_jsonl
from services.generator.families import Family, get_family
from services.generator.generators import get_generator
from services.generator.probe import probe_items
from services.generator.request import DatasetRequest, validate_dataset_request
from services.generator.sources import Source, generate_source, import_source
from services.generator.split import split_indices

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class BuiltDatasets:
    """Everything the generator stores for one experiment."""

    #: The source exactly as read (imported) or written (generated): the experiment's provenance.
    source_bytes: bytes
    #: Policy name -> training JSONL, for both policies: same questions, opposite answers, and the source's
    #: line ends.
    train: dict[str, bytes]
    #: The held-out questions, targets being the letters `request.policy` picks.
    probe: list[ProbeItem]
    train_rows: int
    heldout_rows: int


def build_datasets(request: DatasetRequest) -> BuiltDatasets:
    """Read or generate the source, split it on question indices, derive both policies' sets and the probe.

    Pure apart from reading an imported source: the same request (and source bytes) gives the same bytes.

    Raises:
        SpecError: the request is invalid (see `validate_dataset_request`), or its sizes exceed the source.
        DataError: the source cannot be read, or a row is malformed (the message names the uri and line).
    """
    violations = validate_dataset_request(request)
    if violations:
        raise SpecError(violations)
    family = get_family(request.family)
    source = _load_source(request, family)
    rows = source.parsed.rows
    split = split_indices(len(rows), request.size if request.source_kind == "imported" else 0,
                          request.heldout, request.seed)
    train_rows = [rows[i] for i in split.train]
    newline = source.parsed.newline
    train = {
        request.policy: dump_chat_jsonl(train_rows, newline),
        request.opposite_policy: dump_chat_jsonl([family.flip(row) for row in train_rows], newline),
    }
    probe = probe_items(rows, split.heldout, family.options)
    log.info("datasets_built", family=family.name, source_rows=len(rows), train_rows=len(train_rows),
             heldout_rows=len(probe), source_sha256=_sha256(source.data),
             train_sha256={policy: _sha256(data) for policy, data in train.items()})
    return BuiltDatasets(source.data, train, probe, len(train_rows), len(probe))


def _load_source(request: DatasetRequest, family: Family) -> Source:
    if request.source_kind == "imported":
        return import_source(request.uri, family.options)
    count = request.size or get_generator(request.generator).default_size
    return generate_source(request.generator, request.policy, count, request.seed)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
