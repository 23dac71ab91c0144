"""Bearer-token verification for the gRPC servers (issue 13): static tokens from a file, or JWTs from an issuer.

Why a module of its own, without grpc: the server's auth layer (`selfaware/grpc_server.py`) only reads the
`authorization` metadata and asks a `Verifier` for the `Principal`; what makes a token valid lives here, where a
unit test can check it without a server.

The static tokens file never holds a token, only its SHA-256 (so a leaked file or a backup grants nothing):

    tokens:
      - sha256: 9f86d081884c7d65...   # sha256 of the token, hex (`selfaware.tokens.hash_token`)
        subject: alice                # owns what it creates
        roles: [admin]                # optional; `admin` sees everything
        expires: 2027-01-01T00:00:00Z # optional

JWTs are checked against the issuer's JWKS (PyJWT's `PyJWKClient`, which caches the keys): signature, `exp`,
`iss` and `aud` are required; the subject is `sub`, the roles a list (or a space-separated string) under the
configured claim, a dotted path such as `realm_access.roles` reaching into nested claims.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import jwt
import structlog
import yaml

from selfaware.auth import Principal
from selfaware.errors import DataError

#: Signature algorithms a JWT may use (asymmetric only: an HS256 token signed with a public key is refused).
JWT_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
log = structlog.get_logger(__name__)
_HEX64 = re.compile(r"[0-9a-f]{64}")


class InvalidToken(Exception):
    """The token is missing, unknown, expired or badly signed; the message says which, never the token."""


class Verifier(Protocol):
    #: Whether `verify` may wait on the network (the server then runs it in a thread).
    blocking: bool

    def verify(self, token: str) -> Principal:
        """The principal the token stands for; raise InvalidToken otherwise."""


def hash_token(token: str) -> str:
    """The hex SHA-256 of a token: what a tokens file stores."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class StaticToken:
    subject: str
    roles: frozenset[str]
    expires: datetime.datetime | None = None


class StaticTokens:
    """Tokens from a file of SHA-256 hashes (see the module docstring); compared in constant time.

    The file is re-read when it changes (checked at most every `RECHECK_S`), so a replaced Kubernetes Secret
    adds or revokes tokens without a restart; a changed file that does not parse keeps the tokens in use."""

    blocking = False
    RECHECK_S = 5.0

    def __init__(self, tokens: Mapping[str, StaticToken], path: Path | None = None) -> None:
        self._tokens = dict(tokens)
        self._path = path
        self._stamp = file_stamp(path) if path else None
        self._checked = time.monotonic()

    @classmethod
    def load(cls, path: Path) -> StaticTokens:
        """Read a tokens file (DataError naming the file, the entry and the field at fault)."""
        return cls(cls.parse(path), path)

    def _refresh(self) -> None:
        if self._path is None or time.monotonic() - self._checked < self.RECHECK_S:
            return
        self._checked = time.monotonic()
        try:
            stamp = file_stamp(self._path)
            if stamp != self._stamp:
                self._tokens, self._stamp = self.parse(self._path), stamp
                log.info("tokens_reloaded", path=str(self._path), tokens=len(self._tokens))
        except (OSError, DataError) as exc:
            log.warning("tokens_reload_failed", error=str(exc))

    @staticmethod
    def parse(path: Path) -> dict[str, StaticToken]:
        """The entries of a tokens file by hash; DataError names the file, the entry and the field at fault."""
        try:
            document = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise DataError(f"{path}: cannot read the tokens file: {exc}") from None
        entries = document.get("tokens") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise DataError(f"{path}: expected a mapping with a list under 'tokens'")
        tokens: dict[str, StaticToken] = {}
        for index, entry in enumerate(entries):
            where = f"{path}: tokens[{index}]"
            if not isinstance(entry, dict):
                raise DataError(f"{where}: expected a mapping with sha256, subject and roles")
            if unknown := sorted(set(entry) - {"sha256", "subject", "roles", "expires"}):
                raise DataError(f"{where}: unknown fields {unknown} (a tokens file holds hashes, never tokens)")
            digest = entry.get("sha256")
            if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
                raise DataError(f"{where}.sha256: expected 64 lowercase hex digits (the token's SHA-256)")
            if digest in tokens:
                raise DataError(f"{where}.sha256: the same token is listed twice")
            subject = entry.get("subject")
            if not isinstance(subject, str) or not subject.strip():
                raise DataError(f"{where}.subject: expected a non-empty string")
            roles = entry.get("roles", [])
            if not isinstance(roles, list) or not all(isinstance(r, str) and r for r in roles):
                raise DataError(f"{where}.roles: expected a list of role names")
            tokens[digest] = StaticToken(subject, frozenset(roles), _expiry(entry.get("expires"), f"{where}.expires"))
        return tokens

    def verify(self, token: str) -> Principal:
        self._refresh()
        digest = hash_token(token)
        found = next((entry for known, entry in self._tokens.items() if hmac.compare_digest(known, digest)), None)
        if found is None:
            raise InvalidToken("unknown token")
        if found.expires is not None and found.expires <= datetime.datetime.now(datetime.UTC):
            raise InvalidToken("the token has expired")
        return Principal(found.subject, found.roles)


def file_stamp(path: Path) -> tuple[int, int, int]:
    """What changes when a file is replaced or rewritten (a Kubernetes Secret swaps a symlink)."""
    stat = Path(path).stat()
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def _expiry(value: Any, where: str) -> datetime.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value)
        except ValueError:
            raise DataError(f"{where}: expected an ISO 8601 time, e.g. 2027-01-01T00:00:00Z") from None
    if not isinstance(value, datetime.datetime):
        raise DataError(f"{where}: expected an ISO 8601 time, e.g. 2027-01-01T00:00:00Z")
    return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)


class JwtVerifier:
    """JWTs signed by `issuer`'s keys (fetched from `jwks_url`), meant for `audience`."""

    blocking = True  # the first token of a new key fetches the JWKS

    def __init__(self, issuer: str, audience: str, jwks_url: str, roles_claim: str = "roles") -> None:
        self.issuer, self.audience, self.roles_claim = issuer, audience, roles_claim
        self._keys = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=10)

    def verify(self, token: str) -> Principal:
        try:
            key = self._keys.get_signing_key_from_jwt(token)
            claims = jwt.decode(token, key.key, algorithms=JWT_ALGORITHMS, audience=self.audience,
                                issuer=self.issuer, options={"require": ["exp", "iss", "aud", "sub"]})
        except jwt.ExpiredSignatureError:
            raise InvalidToken("the token has expired") from None
        except jwt.PyJWKClientConnectionError:
            raise InvalidToken("the issuer's keys could not be fetched") from None
        except (jwt.PyJWKClientError, jwt.PyJWKError, jwt.InvalidTokenError) as exc:
            raise InvalidToken(f"invalid token: {type(exc).__name__}") from None
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise InvalidToken("invalid token: sub is not a non-empty string")
        return Principal(subject, frozenset(_roles(claims, self.roles_claim)))


def _roles(claims: Mapping[str, Any], path: str) -> list[str]:
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        return value.split()
    return [r for r in value if isinstance(r, str)] if isinstance(value, list) else []
