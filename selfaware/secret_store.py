"""Secrets by reference: a spec names a secret, the service that needs its value reads it, nothing stores it.

Why: a spec is stored whole (KV, events, GetExperiment) and shown to whoever may read the experiment, so a
credential written into it (a presigned URL's signature, `user:pass@`, an API key) leaks however well logs are
redacted. A spec says `secret:<name>` (a whole uri) or `${secret:<name>}` (inside one), and an endpoint's
`api_key_file` names a secret; the value is looked up only where it is used, at fetch time, from the service's
secrets folder (setting `secrets_dir`, e.g. a mounted Kubernetes Secret: one file per name) or the environment
variable `SELFAWARE_SECRET_<NAME>` (upper case, `-` and `.` as `_`). A spec that carries a literal credential is
refused at submit (`credential_violations`), naming the field and never repeating the value.

A service installs its `SecretStore` with `use_secret_store` while it wires itself (like the source policy);
code outside any service (the CLI, unit tests) gets the trusting `SecretStore()`: no folder, every environment
variable, and key files at any path, since it acts for the user who runs it.
"""

from __future__ import annotations

import contextvars
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from google.protobuf import struct_pb2
from google.protobuf.message import Message

from selfaware.config import ServiceConfig, require, setting
from selfaware.errors import DataError, FieldViolation
from selfaware.redact import MASK, redact

#: A secret's name: safe as a file name and in an environment variable's.
SECRET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
#: A whole value that is a reference: `secret:<name>`.
WHOLE_REF = re.compile(r"^secret:(?P<name>[^/\s]*)$")
#: A reference inside a value: `${secret:<name>}`.
INNER_REF = re.compile(r"\$\{secret:(?P<name>[^}]*)\}")
ENV_PREFIX = "SELFAWARE_SECRET_"
#: What the endpoint key defaults to (docs/spec.md, `endpoints`).
DEFAULT_KEY_ENVS = ("OPENAI_API_KEY",)


class SecretError(DataError, ValueError):
    """A secret reference cannot be resolved (unknown name, a bad name, a key outside the allowed sources)."""


def env_name(name: str) -> str:
    """The environment variable that may hold the secret `name`."""
    return ENV_PREFIX + re.sub(r"[-.]", "_", name).upper()


def is_reference(value: str) -> bool:
    """Whether `value` names a secret (`secret:<name>` or holds `${secret:<name>}`)."""
    return bool(WHOLE_REF.match(value) or INNER_REF.search(value))


def reference_names(value: str) -> list[str]:
    """The secret names `value` refers to, in order."""
    if whole := WHOLE_REF.match(value):
        return [whole["name"]]
    return [m["name"] for m in INNER_REF.finditer(value)]


def placeholder(value: str) -> str:
    """`value` with every reference replaced by the mask, as submit-time checks see it (a URL's scheme and host
    are checked; the secret parts are what the mask stands for)."""
    return MASK if WHOLE_REF.match(value) else INNER_REF.sub(MASK, value)


@dataclass(frozen=True)
class SecretStore:
    """Where secret values come from; the defaults trust the caller (see the module docstring)."""

    #: Folder holding one file per secret; None: no folder (environment variables only).
    folder: Path | None = None
    #: Environment variables an endpoint's `api_key_env` may name; None: any.
    key_envs: tuple[str, ...] | None = None

    def value(self, name: str, field: str) -> str:
        """The secret `name` (file in the folder, else its environment variable), stripped of surrounding
        whitespace; a `SecretError` naming `field` and the secret's name (never a value) otherwise."""
        if not SECRET_NAME.match(name):
            raise SecretError(f"{field}: {name!r} is not a secret name (letters, digits, '_', '-', '.'; at most 63)")
        if self.folder is not None:
            path = self.folder / name
            try:
                return _non_empty(path.read_text(), field, name)
            except FileNotFoundError:
                pass
            except OSError as err:
                raise SecretError(f"{field}: secret {name!r} cannot be read ({err.strerror})") from None
        if (value := os.environ.get(env_name(name))) is not None:
            return _non_empty(value, field, name)
        where = f"{self.folder}/{name} or " if self.folder is not None else ""
        raise SecretError(f"{field}: unknown secret {name!r}; this service looks in {where}${env_name(name)}")

    def resolve(self, value: str, field: str) -> str:
        """`value` with its references replaced by the secrets' values (unchanged without any)."""
        if whole := WHOLE_REF.match(value):
            return self.value(whole["name"], field)
        return INNER_REF.sub(lambda m: self.value(m["name"], field), value)

    @property
    def trusting(self) -> bool:
        """Outside any service: no folder and no list, so a key file may be any path."""
        return self.folder is None and self.key_envs is None

    def check_key_source(self, api_key_env: str, api_key_file: str | None) -> None:
        """Refuse an endpoint key source the store does not allow, before anything is read: a key file that is
        not a secret's name, or a variable off the list (`SecretError`, a ValueError, naming the field)."""
        if api_key_file is not None:
            name = api_key_file.removeprefix("secret:")
            if not self.trusting and not SECRET_NAME.match(name):
                raise SecretError(f"api_key_file: {api_key_file[:100]!r} is not a secret name; name a file in this "
                                  f"service's secrets folder (setting secrets_dir), not a path")
        elif self.key_envs is not None and api_key_env not in self.key_envs and \
                not api_key_env.startswith(ENV_PREFIX):
            allowed = ", ".join(self.key_envs) or "none"
            raise SecretError(f"api_key_env: {api_key_env[:100]!r} is not a key variable this service reads; use one "
                              f"of {allowed}, a {ENV_PREFIX}<NAME> variable, or api_key_file naming a secret "
                              f"(setting api_key_envs)")

    def endpoint_key(self, api_key_env: str, api_key_file: str | None) -> str:
        """An endpoint's key: the secret `api_key_file` names (in the trusting store, a file at any path), else
        the variable `api_key_env` ("" when unset)."""
        self.check_key_source(api_key_env, api_key_file)
        if api_key_file is None:
            return os.environ.get(api_key_env, "").strip()
        if self.trusting and not SECRET_NAME.match(api_key_file.removeprefix("secret:")):
            try:
                return _non_empty(Path(api_key_file).read_text(), "api_key_file", api_key_file)
            except OSError as err:
                raise SecretError(f"api_key_file: cannot read {api_key_file} ({err.strerror})") from None
        return self.value(api_key_file.removeprefix("secret:"), "api_key_file")


def _non_empty(text: str, field: str, name: str) -> str:
    if not (value := text.strip()):
        raise SecretError(f"{field}: secret {name!r} is empty")
    return value


_TRUSTING = SecretStore()
_ACTIVE: contextvars.ContextVar[SecretStore | None] = contextvars.ContextVar("secret_store", default=None)


def use_secret_store(store: SecretStore) -> None:
    """Make `store` the one the current context (a service's task and what it starts afterwards) reads from."""
    _ACTIVE.set(store)


def secret_store() -> SecretStore:
    """The store of the current context (`SecretStore()` outside any service)."""
    return _ACTIVE.get() or _TRUSTING


@dataclass(frozen=True)
class SecretsConfig(ServiceConfig):
    """Settings of a service that resolves secret references (the generator, evaluator and trainer)."""

    secrets_dir: str = setting("", "folder of secrets, one file per name (e.g. a mounted Kubernetes Secret); "
                                    "'' : only SELFAWARE_SECRET_<NAME> environment variables")
    api_key_envs: str = setting(",".join(DEFAULT_KEY_ENVS), "comma-separated environment variables an endpoint's "
                                                            "api_key_env may name (SELFAWARE_SECRET_* always)")

    def __post_init__(self) -> None:
        super().__post_init__()
        names = self._key_envs()
        require(all(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n) for n in names), "api_key_envs",
                "comma-separated environment variable names")

    def _key_envs(self) -> tuple[str, ...]:
        return tuple(n.strip() for n in self.api_key_envs.split(",") if n.strip())

    def secret_store(self) -> SecretStore:
        """The store these settings describe, the folder resolved against the working directory now."""
        folder = Path(os.path.realpath(Path(self.secrets_dir).expanduser())) if self.secrets_dir else None
        return SecretStore(folder=folder, key_envs=self._key_envs())


def credential_violations(spec: Message) -> list[FieldViolation]:
    """Every string field of `spec` holding a literal credential (URL user info, a token query parameter, a
    known key format: what `selfaware.redact` masks), by its YAML path, without repeating the value.

    References are masked first, so `http://h/x?token=${secret:t}` passes (a masked string is `redact`'s fixed
    point)."""
    return [FieldViolation(path, "holds a literal credential; store it as a secret and refer to it as "
                                 "secret:<name> (a whole uri) or ${secret:<name>} (docs/spec.md, Secrets)")
            for path, text in _strings(spec, "") if redact(placeholder(text)) != placeholder(text)]


def reference_violations(spec: Message) -> list[FieldViolation]:
    """Every reference in `spec` whose name is not a valid secret name."""
    return [FieldViolation(path, f"{name!r} is not a secret name (letters, digits, '_', '-', '.'; at most 63)")
            for path, text in _strings(spec, "") for name in reference_names(text) if not SECRET_NAME.match(name)]


#: Proto field names shown as the YAML spells them (`data.generate: NAME`, `data.params`, `data.import`); fields
#: whose name the YAML leaves out (an arm's attributes are its scalar keys); repeated messages keyed by name.
_RENAMED = {"import_uri": "import", "generator": "generate"}
_FLATTENED = ("attributes", "generate")
_BY_NAME = ("arms", "endpoints")


def _segment(message: Message, field: str) -> str:
    """The YAML name of `message`'s `field`: a step's parameters sit under the step's name (`steps[0].mix`)."""
    if field in ("params", "value") and message.DESCRIPTOR.name == "RecipeStep":
        return getattr(message, "name", "") or field
    return _RENAMED.get(field, field)


def _strings(message: Message, path: str) -> Iterator[tuple[str, str]]:
    """(YAML path, value) of every string in `message`, Struct parameters and string maps included."""
    if isinstance(message, struct_pb2.Struct):
        for key, value in message.fields.items():
            yield from _value_strings(value, f"{path}.{key}")
        return
    if isinstance(message, struct_pb2.Value):
        yield from _value_strings(message, path)
        return
    for field, value in message.ListFields():
        name = _segment(message, field.name)
        where = path if field.name in _FLATTENED else f"{path}.{name}" if path else name
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            for key, item in value.items():
                if isinstance(item, str):
                    yield f"{where}.{key}", item
        elif field.message_type is not None and field.is_repeated:
            for i, item in enumerate(value):
                label = getattr(item, "name", "") if field.name in _BY_NAME else ""
                yield from _strings(item, f"{where}.{label}" if label else f"{where}[{i}]")
        elif field.message_type is not None:
            yield from _strings(value, where)
        elif field.is_repeated:
            yield from ((f"{where}[{i}]", item) for i, item in enumerate(value) if isinstance(item, str))
        elif isinstance(value, str):
            yield where, value


def _value_strings(value: struct_pb2.Value, path: str) -> Iterator[tuple[str, str]]:
    kind = value.WhichOneof("kind")
    if kind == "string_value":
        yield path, value.string_value
    elif kind == "struct_value":
        yield from _strings(value.struct_value, path)
    elif kind == "list_value":
        for i, item in enumerate(value.list_value.values):
            yield from _value_strings(item, f"{path}[{i}]")
