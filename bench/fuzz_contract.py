"""The contract fuzzer at scale (issue 13, item 6): `python -m bench.fuzz_contract [COUNT] [SEED]` starts the
local stack (NATS and the four services as child processes, as `make demo` does), sends COUNT hypothesis-generated
requests (default 10,000) spread over every RPC (tests/fuzz_requests.py; derandomized unless SEED is given), and
writes the count of each outcome per RPC and per token label, the requests whose answers broke the contract,
whether every service was still alive and answering health, and the settings it ran under to
bench/fuzz-contract.json. The stack serves TLS and requires tokens, as it always does: the bench adds two users
to its tokens file and draws each request's caller from the owner (alice), another user (bob), the stack's admin,
a garbage token and none; the last two must be answered UNAUTHENTICATED on every call.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
import hypothesis
import yaml
from grpc_health.v1 import health_pb2, health_pb2_grpc

from selfaware.cli.local_tls import token_entry, write_tokens_file
from selfaware.cli.stack import LocalStack
from selfaware.specs import load_spec_file
from selfaware.v1 import aggregator_pb2, aggregator_pb2_grpc
from tests.fuzz_requests import DEADLINE_S, Auth, fuzz, plan

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "fuzz-contract.json"
#: Valid specs that generated ExperimentSpecs (and SweepSpecs) are mutated from, to reach the checks behind the
#: first one.
SEED_SPECS = ["examples/risk.yaml", "examples/apples.yaml", "examples/myopia.yaml"]
SERVICES = ("aggregator", "generator", "trainer", "evaluator")


async def _healthy(auth: Auth, address: str) -> bool:
    channel = auth.channel(address)
    try:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=DEADLINE_S)
        return reply.status == health_pb2.HealthCheckResponse.SERVING
    except Exception:  # noqa: BLE001 - any failure is "not answering"
        return False
    finally:
        await channel.close()


async def _callers(stack: LocalStack, address: str) -> Auth:
    """Add alice and bob to the stack's tokens file and wait until the services take them (they re-read it
    within seconds of a change); the callers are those two, the stack's admin, a garbage token and none."""
    assert stack.tls is not None
    entries = yaml.safe_load(stack.tls.tokens_file.read_text())["tokens"]
    tokens: dict[str, str | None] = {}
    for label, subject in (("owner", "alice"), ("other", "bob")):
        tokens[label], entry = token_entry(subject, [])
        entries.append(entry)
    write_tokens_file(stack.tls.tokens_file, entries)
    tokens |= {"admin": stack.credentials.token, "garbage": "not-a-token", "none": None}
    auth = Auth(tokens, stack.tls.ca_file.read_bytes(), frozenset({"garbage", "none"}))
    stub = aggregator_pb2_grpc.AggregatorServiceStub(channel := auth.channel(address))
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                await stub.ListExperiments(aggregator_pb2.ListExperimentsRequest(), metadata=auth.metadata("other"),
                                           timeout=DEADLINE_S)
                return auth
            except grpc.aio.AioRpcError as error:
                if error.code() != grpc.StatusCode.UNAUTHENTICATED or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
    finally:
        await channel.close()


async def run(count: int = 10_000, seed: int | None = None) -> dict[str, Any]:
    specs = [load_spec_file(REPO / name) for name in SEED_SPECS if (REPO / name).exists()]
    with tempfile.TemporaryDirectory() as tmp:
        stack = LocalStack(Path(tmp))
        try:
            await stack.start(Path(tmp) / "data", Path(tmp) / "nats")
            addresses = {name: stack.children[name].address for name in SERVICES}
            auth = await _callers(stack, addresses["aggregator"])
            started = time.monotonic()
            tally = await fuzz(addresses, count, seed=seed, specs=specs, auth=auth)
            elapsed = time.monotonic() - started
            alive = {name: child.process is not None and child.process.poll() is None
                     for name, child in stack.children.items()}
            healthy = {name: await _healthy(auth, address) for name, address in addresses.items()}
        finally:
            stack.stop()
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    return {"requests": tally.total, "requested": count, "seed": seed, "derandomize": seed is None,
            "hypothesis": hypothesis.__version__, "examples_per_rpc": {r.name: n for r, n in
                                                                         plan(count, len(auth.tokens)).items()},
            "tokens": sorted(auth.tokens), "tls": auth.root_certificates is not None, "seed_specs": SEED_SPECS,
            "deadline_s": DEADLINE_S, "git_commit": commit, "seconds": round(elapsed, 1),
            "services_alive": alive, "services_healthy": healthy, "outcomes": tally.as_json(),
            "outcomes_by_token": {label: dict(sorted(c.items())) for label, c in sorted(tally.by_token.items())},
            "violations": [{"rpc": rpc, "outcome": outcome, "problem": problem, "request": str(message)[:4000]}
                           for rpc, outcome, problem, message in tally.bad]}


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else None
    result = asyncio.run(run(count, seed))
    OUT.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k not in ("outcomes", "outcomes_by_token",
                                                                   "examples_per_rpc")}
                     | {"violations": len(result["violations"])}))


if __name__ == "__main__":
    main()
