"""The domain package imports none of the transport or heavy libraries (checked in a clean interpreter)."""

from __future__ import annotations

import subprocess
import sys

FORBIDDEN = ("grpc", "nats", "torch", "scipy", "matplotlib")


def test_importing_the_domain_api_stays_light() -> None:
    code = ("import sys, services.generator; "
            f"print(','.join(m for m in {FORBIDDEN!r} if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""
