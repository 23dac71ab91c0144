"""Throwaway TLS files for tests, under the names cert-manager's Secrets use (`ca.crt`, `tls.crt`, `tls.key`)."""

from __future__ import annotations

from pathlib import Path

from selfaware.cli.local_tls import generate


def write_tls_files(folder: Path) -> dict[str, Path]:
    """A CA and a server certificate it signs for 127.0.0.1, ::1 and localhost (the embedded stack's own,
    `local_tls.generate`), renamed as cert-manager names them; returns the three paths by those names."""
    tls = generate(folder)
    return {name: path.rename(folder / name)
            for name, path in (("ca.crt", tls.ca_file), ("tls.crt", tls.cert_file), ("tls.key", tls.key_file))}
