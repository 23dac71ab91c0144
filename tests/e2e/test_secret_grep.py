"""Secrets never land anywhere: one small real experiment on the embedded stack with secrets planted in the
services' environment and secrets folder, its dataset fetched from a presigned-style URL held in a secret, then
every log file, every message of every JetStream stream (events, dead letters, the KV and object store streams,
read raw), the stored experiment, the report and every file the stack wrote are searched for each secret: no hit.

The dataset server is a real loopback HTTP server that answers 403 unless the request carries the signature, so
the experiment can only succeed if the generator resolved the secret and fetched with it. The model is the
random-weight tiny Llama (`random_model_dir`): what is searched is plumbing, not what the model says.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import http.server
import threading
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js.errors import NotFoundError

from selfaware.cli.stack import LocalStack
from selfaware.specs import spec_from_dict
from selfaware.status import TERMINAL
from selfaware.v1 import records_pb2 as rec
from tests.service.conftest import tiny_spec_dict

pytestmark = pytest.mark.slow

#: The planted secrets: distinctive enough that a hit can only be a leak.
SIGNATURE = "5e1f0a9c3b7d2e4f6a8c0e2b4d6f8a1c3e5b7d9f0a2c4e6b8d0f1a3c5e7b9d2f"
CREDENTIAL = "AKIAQZSECRETGREP7X2M"
OPENAI_KEY = "sk-proj-SecretGrepOpenAIKey0123456789abcdefXYZ"
HF_TOKEN = "hf_SecretGrepHuggingFaceToken0123456789abc"
JUDGE_KEY = "judge-key-SecretGrep-9f8e7d6c5b4a"
SECRETS = {"signature": SIGNATURE, "credential": CREDENTIAL, "openai key": OPENAI_KEY, "hf token": HF_TOKEN,
           "judge key": JUDGE_KEY}


class _Signed(http.server.SimpleHTTPRequestHandler):
    """Serves the folder only to requests signed with `SIGNATURE` (403 otherwise), counting both."""

    served: list[str] = []
    refused: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        if query.get("X-Amz-Signature") != [SIGNATURE] or query.get("X-Amz-Credential", [""])[0].split("/")[0] \
                != CREDENTIAL:
            type(self).refused.append(self.path.split("?")[0])
            self.send_error(403, "signature required")
            return
        type(self).served.append(self.path.split("?")[0])
        self.path = self.path.split("?")[0]
        super().do_GET()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def signed_server(risky_dataset: Path) -> Iterator[str]:
    _Signed.served, _Signed.refused = [], []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(_Signed, directory=str(risky_dataset.parent)))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{risky_dataset.name}"
    finally:
        server.shutdown()
        server.server_close()


def secret_spec(risky_dataset: Path, questions_dir: Path, model_dir: Path) -> dict[str, Any]:
    """The smallest experiment that runs every stage (the CLI test's sizes, two suites of logprob probes), its
    import a secret reference, with a hosted endpoint whose key is a secret (declared, not called)."""
    spec = tiny_spec_dict(risky_dataset, questions_dir)
    spec["name"] = "secret grep"
    spec["base_models"] = [{"name": "tiny", "path": str(model_dir)}]
    spec["arms"]["risk-seeking"]["data"] = {"import": "secret:dataset-url", "steps": [{"sample": 4}]}
    spec["holdout"]["rows"] = 4
    spec["training"]["batch_size"] = 4
    spec["evaluation"]["engine"] = "hf"
    spec["evaluation"]["suites"] = spec["evaluation"]["suites"][:2]
    spec["evaluation"]["suites"][1]["lotteries"]["pairs"] = 4
    spec["endpoints"] = {"judge": {"base_url": "http://127.0.0.1:9/v1", "model": "judge", "api_key_file": "judge-key"}}
    return spec


async def stream_messages(stack: LocalStack) -> dict[str, list[bytes]]:
    """Every stored message of every stream, subject, headers and data, read raw by sequence (as the stack's
    NATS admin: there is no anonymous access)."""
    nc = await nats.connect(stack.nats_url, **stack.nats_connect_options())
    try:
        js = nc.jetstream()
        found: dict[str, list[bytes]] = {}
        for info in await js.streams_info():
            name, state = info.config.name, info.state
            messages = found.setdefault(name, [])
            for seq in range(state.first_seq, state.last_seq + 1) if state.messages else ():
                try:
                    msg = await js.get_msg(name, seq)
                except NotFoundError:
                    continue  # deleted or purged
                headers = "".join(f"{k}:{v}\n" for k, v in (msg.headers or {}).items()).encode()
                messages.append((msg.subject or "").encode() + b"\n" + headers + (msg.data or b""))
        return found
    finally:
        await nc.close()


def hits(blob: bytes, secrets: dict[str, str] = SECRETS) -> list[str]:
    return [what for what, secret in secrets.items() if secret.encode() in blob]


async def test_no_secret_lands_in_logs_streams_records_or_files(tmp_path: Path, signed_server: str,
                                                                risky_dataset: Path, questions_dir: Path,
                                                                random_model_dir: Path) -> None:
    secrets_dir = tmp_path / "secrets"  # the mounted Secret: the one place the values may be
    secrets_dir.mkdir()
    presigned = (f"{signed_server}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={CREDENTIAL}%2F20261207%2F"
                 f"us-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261207T000000Z&X-Amz-Expires=3600"
                 f"&X-Amz-SignedHeaders=host&X-Amz-Signature={SIGNATURE}")
    (secrets_dir / "dataset-url").write_text(presigned + "\n")
    (secrets_dir / "judge-key").write_text(JUDGE_KEY + "\n")
    planted = {"SELFAWARE_SECRETS_DIR": str(secrets_dir), "OPENAI_API_KEY": OPENAI_KEY, "HF_TOKEN": HF_TOKEN,
               "SELFAWARE_SECRET_SPARE": JUDGE_KEY,
               # the dataset server is on loopback, which a source may reach only when allowed
               "SELFAWARE_SOURCE_ALLOW_PRIVATE_HOSTS": "true", "SELFAWARE_LOG_LEVEL": "debug"}
    root = tmp_path / "stack"
    stack = LocalStack(root / "run")
    await stack.start(root / "data", root / "nats", log_level="debug", extra_env=planted)
    try:
        async with stack.client() as client:
            submitted = await client.submit(spec_from_dict(secret_spec(risky_dataset, questions_dir, random_model_dir)))
            deadline = time.monotonic() + 900
            while (final := await client.get(submitted.id)).experiment.status not in TERMINAL:
                assert time.monotonic() < deadline, "the experiment did not finish in 15 minutes"
                await asyncio.sleep(1)
            assert final.experiment.status == rec.EXPERIMENT_STATUS_SUCCEEDED, final.experiment.error
            report = await client.report(submitted.id)
            leaks = {"GetExperiment": hits(final.SerializeToString()), "GetReport": hits(report.SerializeToString())}
        streams = await stream_messages(stack)
        # the stack's own credentials: the gRPC admin token and every NATS user's password, which live only in
        # their 0600 files under tls/ and nats-auth/ (and NATS's config there)
        own = {"grpc token": stack.credentials.token or ""} | {
            f"nats password of {user}": stack.nats_connect_options(user)["password"]
            for user in ("generator", "trainer", "evaluator", "aggregator", "provision", "admin")}
    finally:
        await asyncio.to_thread(stack.stop, grace_s=10)

    assert _Signed.served and not _Signed.refused, (_Signed.served, _Signed.refused)  # fetched, and signed
    assert final.experiment.spec.arms[0].data.import_uri == "secret:dataset-url"
    assert {"SELFAWARE_EVENTS", "SELFAWARE_DLQ"} <= set(streams), sorted(streams)
    assert any(name.startswith("KV_") for name in streams) and any(name.startswith("OBJ_") for name in streams)
    assert sum(map(len, streams.values())) > 20  # the run really wrote events, records and objects
    everything = SECRETS | own
    assert all(everything.values())
    for name, messages in streams.items():
        leaks[f"stream {name}"] = sorted({what for message in messages for what in hits(message, everything)})
    files = [path for path in root.rglob("*") if path.is_file()]  # logs, data dir, artifacts, NATS's own store
    assert any(path.suffix == ".log" for path in files) and len(files) > 10
    kept = {root / "run" / "tls", root / "run" / "nats-auth"}  # where the stack keeps its own credentials
    for path in files:
        leaks[str(path.relative_to(root))] = hits(path.read_bytes(), SECRETS if kept & set(path.parents)
                                                  else everything)
    assert {where: found for where, found in leaks.items() if found} == {}
    # The search sees stored text: the spec's reference is found raw in the KV stream and in NATS's own files.
    reference = b"secret:dataset-url"
    assert any(reference in m for name, ms in streams.items() if name.startswith("KV_") for m in ms)
    assert any(reference in p.read_bytes() for p in files if p.relative_to(root).parts[0] == "nats")
    # The log says what was fetched, as the spec wrote it.
    generator_log = stack.log_path("generator").read_text()
    assert "secret:dataset-url" in generator_log
    assert hashlib.sha256(risky_dataset.read_bytes()).hexdigest() in generator_log  # the server's bytes
