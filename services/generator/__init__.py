"""The generator service: builds every arm's training rows and held-out probe from the spec's recipes.

The domain API below imports neither grpc nor nats, and stays cheap to import.
"""

from services.generator.catalogue import capabilities, catalogue
from services.generator.chat_jsonl import ChatFile, ChatRow, dump_chat_jsonl, parse_chat_jsonl
from services.generator.families import FAMILIES, Family, TwoOptionFamily, family, get_family
from services.generator.generators import GENERATORS, QuestionGenerator, generator, get_generator
from services.generator.probe import probe_set
from services.generator.recipes import BuiltArm, build_arms
from services.generator.split import Split, split_indices
from services.generator.steps import STEPS, Step, StepContext, get_step, step

__all__ = [
    "FAMILIES",
    "GENERATORS",
    "STEPS",
    "BuiltArm",
    "ChatFile",
    "ChatRow",
    "Family",
    "QuestionGenerator",
    "Split",
    "Step",
    "StepContext",
    "TwoOptionFamily",
    "build_arms",
    "capabilities",
    "catalogue",
    "dump_chat_jsonl",
    "family",
    "generator",
    "get_family",
    "get_generator",
    "get_step",
    "parse_chat_jsonl",
    "probe_set",
    "split_indices",
    "step",
]
