"""A `POST /v1/fine_tuning/jobs` body, checked before anything is stored, errors as OpenAI words them.

The façade's "auto" values: 3 epochs, batch 8, multiplier 1 (of `--learning-rate`). Hyperparameters may come as
the older top-level `hyperparameters` or inside `method: {type: supervised, supervised: {hyperparameters}}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from services.trainer.facade.errors import ApiError

AUTO: dict[str, int | float] = {"n_epochs": 3, "batch_size": 8, "learning_rate_multiplier": 1.0}
#: name -> (type, smallest, largest)
LIMITS: dict[str, tuple[type, float, float]] = {
    "n_epochs": (int, 1, 50), "batch_size": (int, 1, 256), "learning_rate_multiplier": (float, 1e-6, 100.0)}


@dataclass(frozen=True)
class JobRequest:
    model: str
    training_file: str
    #: Every hyperparameter, "auto" resolved.
    hyperparameters: dict[str, int | float]
    seed: int | None
    suffix: str | None
    metadata: dict[str, str] | None


def job_request(body: Mapping[str, Any], base_model: str) -> JobRequest:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise ApiError(HTTPStatus.BAD_REQUEST, "Missing required parameter: 'model'.", "model")
    if model != base_model:
        raise ApiError(HTTPStatus.BAD_REQUEST, f"Model {model} is not available for fine-tuning or does not exist. "
                                               f"This server fine-tunes {base_model}.", "model", "model_not_available")
    training_file = body.get("training_file")
    if not isinstance(training_file, str) or not training_file:
        raise ApiError(HTTPStatus.BAD_REQUEST, "Missing required parameter: 'training_file'.", "training_file")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31):
        raise ApiError(HTTPStatus.BAD_REQUEST, "seed: must be an integer from 0 to 2147483647", "seed")
    suffix = body.get("suffix")
    if suffix is not None and (not isinstance(suffix, str) or len(suffix) > 64):
        raise ApiError(HTTPStatus.BAD_REQUEST, "suffix: must be a string of at most 64 characters", "suffix")
    metadata = body.get("metadata")
    if metadata is not None and not (isinstance(metadata, dict) and len(metadata) <= 16 and all(
            isinstance(k, str) and len(k) <= 64 and isinstance(v, str) and len(v) <= 512
            for k, v in metadata.items())):
        raise ApiError(HTTPStatus.BAD_REQUEST, "metadata: at most 16 string keys (64 characters) with string "
                                               "values (512 characters)", "metadata")
    return JobRequest(model, training_file, _hyperparameters(body), seed, suffix or None, metadata)


def _hyperparameters(body: Mapping[str, Any]) -> dict[str, int | float]:
    given, where = body.get("hyperparameters"), "hyperparameters"
    method = body.get("method")
    if isinstance(method, dict):
        if method.get("type", "supervised") != "supervised":
            raise ApiError(HTTPStatus.BAD_REQUEST, "method.type: this server trains `supervised` only",
                           "method.type")
        given = (method.get("supervised") or {}).get("hyperparameters", given)
        where = "method.supervised.hyperparameters"
    given = given or {}
    if not isinstance(given, dict):
        raise ApiError(HTTPStatus.BAD_REQUEST, f"{where}: must be an object", where)
    unknown = sorted(set(given) - set(LIMITS))
    if unknown:
        raise ApiError(HTTPStatus.BAD_REQUEST, f"{where}.{unknown[0]}: unknown hyperparameter",
                       f"{where}.{unknown[0]}")
    resolved: dict[str, int | float] = {}
    for name, (kind, low, high) in LIMITS.items():
        value = given.get(name, "auto")
        if value == "auto":
            resolved[name] = AUTO[name]
            continue
        ok = (not isinstance(value, bool) and isinstance(value, int | float)
              and (kind is float or isinstance(value, int)) and low <= value <= high)
        if not ok:
            raise ApiError(HTTPStatus.BAD_REQUEST, f"{where}.{name}: must be 'auto' or a"
                                                   f"{'n integer' if kind is int else ' number'} from {low:g} to "
                                                   f"{high:g}, got {value!r}", f"{where}.{name}")
        resolved[name] = kind(value)
    return resolved
