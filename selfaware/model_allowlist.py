"""Which base models a service loads: hub name patterns and local path prefixes (setting `allowed_base_models`).

Why: a spec names the base model, and the trainer and the evaluator download and load it with their own
credentials and permissions, so without a list any hub repository (pickled weights, gated models on the
service's HF_TOKEN, a 400 GB download) was one submission away. Remote code is off on every load
(`trust_remote_code=False`); this list decides what is loaded at all. The trainer and the evaluator publish their
lists in their catalogues, so the aggregator refuses a spec naming another model at submit
(`base_models[i].name` or `.path`), and they check again when they load it (a `PermanentError`).
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from selfaware.config import ServiceConfig, require, setting
from selfaware.errors import PermanentError
from selfaware.v1 import spec_pb2

#: The tiny default model and the families the examples use (HuggingFaceTB/SmolLM2-1.7B-Instruct,
#: meta-llama/Llama-3.2-3B-Instruct and 3.1-70B, Qwen/Qwen2.5-3B-Instruct; gpt-4o-* through the hosted
#: backend and engine), and local model directories anywhere ("/"): they are the operator's own files.
DEFAULT_ALLOWED = ("HuggingFaceTB/SmolLM2-*-Instruct,meta-llama/Llama-3.*-Instruct,Qwen/Qwen2.5-*-Instruct,"
                   "gpt-4o-*,/")


class ModelNotAllowed(PermanentError):
    """A spec's base model is not on the service's `allowed_base_models`."""


def parse_allowed(text: str) -> tuple[str, ...]:
    """The entries of the setting: name patterns as given, path prefixes made real (symlinks resolved)."""
    entries = (e.strip() for e in text.split(","))
    return tuple(os.path.realpath(Path(e).expanduser()) if _is_path(e) else e for e in entries if e)


def _is_path(entry: str) -> bool:
    return entry.startswith(("/", "~", "./", "../")) or entry == "."


def model_problem(model: spec_pb2.BaseModel, allowed: Sequence[str], service: str) -> tuple[str, str] | None:
    """(field, why) when `model` is not allowed by `allowed` (the `service`'s list), or None when it is; a model
    with a `path` is judged by the path alone (its `name` is then only a label)."""
    if model.path:
        try:
            real = Path(os.path.realpath(Path(model.path).expanduser()))
        except (OSError, RuntimeError, ValueError):
            return "path", "is not a readable path"
        if any(_is_path(entry) and real.is_relative_to(entry) for entry in allowed):
            return None
        prefixes = ", ".join(e for e in allowed if _is_path(e)) or "none"
        return "path", f"is outside the {service}'s allowed model folders ({prefixes}; setting allowed_base_models)"
    if any(not _is_path(entry) and fnmatch.fnmatchcase(model.name, entry) for entry in allowed):
        return None
    names = ", ".join(e for e in allowed if not _is_path(e)) or "none"
    return "name", (f"{model.name[:100]!r} is not among the {service}'s allowed base models ({names}; setting "
                    f"allowed_base_models)")


def check_base_model(model: spec_pb2.BaseModel, allowed: Sequence[str], service: str) -> None:
    """Refuse to load a model off the list: the submit-time check ran against the catalogue, which may be older
    than this replica's settings."""
    if (problem := model_problem(model, allowed, service)) is not None:
        field, why = problem
        raise ModelNotAllowed(f"base_model.{field}: {why}")


@dataclass(frozen=True)
class BaseModelsConfig(ServiceConfig):
    """Settings of a service that loads base models (the trainer and the evaluator)."""

    allowed_base_models: str = setting(DEFAULT_ALLOWED, "comma-separated base models this service loads: hub name "
                                                        "patterns (fnmatch: *, ?) and path prefixes of local model "
                                                        "directories (starting with / ~ or .); '*' any name")

    def __post_init__(self) -> None:
        super().__post_init__()
        require(bool(parse_allowed(self.allowed_base_models)), "allowed_base_models",
                "at least one entry ('*,/' allows every model)")

    def allowed_models(self) -> tuple[str, ...]:
        """The list as the catalogue publishes it and loads check it, path prefixes resolved now."""
        return parse_allowed(self.allowed_base_models)
