"""Typed domain errors, and the one place that maps them to gRPC status codes.

Domain code raises these and never imports grpc; one decorator (`selfaware.grpc_server.rpc`) maps them to
status codes. The event bus uses `PermanentError` to tell a poison message (dead-letter it now) from a transient
failure (retry later): `Unavailable` is the transient one a caller may retry.
"""

from __future__ import annotations

from dataclasses import dataclass


class SelfawareError(Exception):
    """Base of every error the platform raises on purpose."""


class PermanentError(SelfawareError):
    """Retrying cannot help: the input itself is wrong."""


@dataclass
class FieldViolation:
    """One bad field, named by its path in the spec (e.g. `training.lora.rank`)."""

    field: str
    description: str


class SpecError(PermanentError):
    """An experiment spec (or request) is invalid; carries every violation found."""

    def __init__(self, violations: list[FieldViolation]) -> None:
        self.violations = violations
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in violations))

    @classmethod
    def single(cls, field: str, description: str) -> SpecError:
        return cls([FieldViolation(field, description)])


class NotFound(SelfawareError):
    """The named experiment, job or artifact does not exist."""


class DataError(PermanentError):
    """Input data (a dataset file, a question file) is malformed or missing."""


class TooLarge(DataError):
    """Input is over a configured size cap (a source over `source_max_bytes`): RESOURCE_EXHAUSTED over gRPC."""


class PermissionDenied(SelfawareError):
    """The caller is authenticated but may not touch this experiment, sweep or letter (another user's):
    PERMISSION_DENIED over gRPC. The message names the target's id only, never its owner or spec."""


class QuotaExceeded(SelfawareError):
    """A submission would take its owner over a quota (services/aggregator/quotas.py): RESOURCE_EXHAUSTED over
    gRPC, the message naming the quota, the owner's usage and the limit."""


class Unavailable(SelfawareError):
    """Something the work needs cannot be reached now (a source's server down or slow): retry later;
    UNAVAILABLE over gRPC."""


class Cancelled(SelfawareError):
    """The experiment was cancelled while this work ran."""
