"""The embedded stack's own security: a throwaway CA, a server certificate for 127.0.0.1/localhost, and an admin
token for the local user, so `selfaware run/up/demo` exercise TLS + tokens as a deployment does, in one command.

Everything is written under `<run dir>/tls/` with mode 0600 (the folder 0700); the tokens file the services read
holds only the token's SHA-256 (`selfaware.tokens`). Tests use `issue_cert` and `token_entry` for more
certificates (mTLS clients) and more users.
"""

from __future__ import annotations

import datetime
import getpass
import ipaddress
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from selfaware.auth import ADMIN
from selfaware.client import Credentials
from selfaware.tokens import hash_token

#: Certificates of the embedded stack outlive any run; a new run makes new ones.
VALIDITY = datetime.timedelta(days=30)


@dataclass(frozen=True)
class LocalTls:
    """The files of one local stack's security (see the module docstring)."""

    folder: Path
    subject: str

    ca_file: Path  # the CA clients trust
    ca_key_file: Path  # its key (tests issue more certificates with it)
    cert_file: Path  # every service's certificate, for 127.0.0.1, ::1 and localhost
    key_file: Path
    token_file: Path  # the local admin's token
    tokens_file: Path  # the services' tokens file: the token's hash

    @classmethod
    def at(cls, folder: Path, subject: str) -> LocalTls:
        return cls(folder, subject, folder / "ca.pem", folder / "ca-key.pem", folder / "server.pem",
                   folder / "server-key.pem", folder / "token", folder / "tokens.yaml")

    def server_env(self) -> dict[str, str]:
        """The settings that make a service serve TLS and require the local tokens."""
        return {"SELFAWARE_AUTH_MODE": "tokens", "SELFAWARE_AUTH_TOKENS_FILE": str(self.tokens_file),
                "SELFAWARE_TLS_CERT_FILE": str(self.cert_file), "SELFAWARE_TLS_KEY_FILE": str(self.key_file)}

    def credentials(self) -> Credentials:
        """What a client of the stack needs: the admin token and the CA."""
        return Credentials.from_files(self.token_file, self.ca_file)


def generate(folder: Path, subject: str | None = None) -> LocalTls:
    """Make a CA, a server certificate for 127.0.0.1/localhost and an admin token for `subject` (default: the
    local user) under `folder`, replacing what was there."""
    subject = subject or _local_user()
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    tls = LocalTls.at(folder, subject)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "selfaware local CA")])
    now = datetime.datetime.now(datetime.UTC)
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + VALIDITY)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False),
                         critical=True)
          .sign(ca_key, hashes.SHA256()))
    write_private(tls.ca_file, ca.public_bytes(serialization.Encoding.PEM))
    write_private(tls.ca_key_file, _pem_key(ca_key))
    issue_cert(ca, ca_key, "selfaware local server", tls.cert_file, tls.key_file, server=True)
    token, entry = token_entry(subject, [ADMIN])
    write_private(tls.token_file, (token + "\n").encode())
    write_tokens_file(tls.tokens_file, [entry])
    return tls


def issue_cert(ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, name: str, cert_file: Path,
               key_file: Path, *, server: bool) -> None:
    """A certificate signed by `ca`: for a server on 127.0.0.1/localhost, or (`server=False`) a client."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
               .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALIDITY)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server
                                                     else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False))
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1"))]), critical=False)
    cert = builder.sign(ca_key, hashes.SHA256())
    write_private(cert_file, cert.public_bytes(serialization.Encoding.PEM))
    write_private(key_file, _pem_key(key))


def load_ca(tls: LocalTls) -> tuple[x509.Certificate, Any]:
    """The stack's CA and its key (to issue more certificates, e.g. an mTLS client's)."""
    return (x509.load_pem_x509_certificate(tls.ca_file.read_bytes()),
            serialization.load_pem_private_key(tls.ca_key_file.read_bytes(), password=None))


def token_entry(subject: str, roles: list[str], expires: datetime.datetime | None = None
                ) -> tuple[str, dict[str, Any]]:
    """A new random token and its tokens-file entry (which holds only the hash)."""
    token = secrets.token_urlsafe(32)
    entry: dict[str, Any] = {"sha256": hash_token(token), "subject": subject, "roles": roles}
    if expires is not None:
        entry["expires"] = expires.isoformat()
    return token, entry


def write_tokens_file(path: Path, entries: list[dict[str, Any]]) -> None:
    write_private(path, yaml.safe_dump({"tokens": entries}, sort_keys=False).encode())


def write_private(path: Path, data: bytes) -> Path:
    """Write `data` readable by this user only (0600), from the first byte on; returns `path`."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(data)
    return path


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _local_user() -> str:
    try:
        return getpass.getuser() or "local"
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return "local"
