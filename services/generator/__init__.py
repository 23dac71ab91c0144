"""The generator service: builds one experiment's training sets (both policies) and its held-out probe.

The domain API below imports neither grpc nor nats, and stays cheap to import: the aggregator imports
`validate_dataset_request` to reject a bad spec at submit time.
"""

from services.generator.build import BuiltDatasets, build_datasets
from services.generator.chat_jsonl import ChatFile, ChatRow, dump_chat_jsonl, parse_chat_jsonl
from services.generator.families import FAMILIES, Family, TwoOptionFamily, family, get_family
from services.generator.generators import GENERATORS, QuestionGenerator, generator, get_generator
from services.generator.request import SOURCE_KINDS, DatasetRequest, validate_dataset_request
from services.generator.split import Split, split_indices

__all__ = [
    "FAMILIES",
    "GENERATORS",
    "SOURCE_KINDS",
    "BuiltDatasets",
    "ChatFile",
    "ChatRow",
    "DatasetRequest",
    "Family",
    "QuestionGenerator",
    "Split",
    "TwoOptionFamily",
    "build_datasets",
    "dump_chat_jsonl",
    "family",
    "generator",
    "get_family",
    "get_generator",
    "parse_chat_jsonl",
    "split_indices",
    "validate_dataset_request",
]
