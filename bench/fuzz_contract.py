"""The contract fuzzer at scale (issue 13, item 6): `python -m bench.fuzz_contract [COUNT] [SEED]` starts the
local stack (NATS and the four services as child processes, as `make demo` does), sends COUNT generated requests
(default 10,000) spread over every RPC (tests/fuzz_requests.py), and writes the count of each outcome per RPC, the
requests whose answers broke the contract, and whether every service was still alive to bench/fuzz-contract.json.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from selfaware.cli.stack import LocalStack
from selfaware.specs import load_spec_file
from tests.fuzz_requests import fuzz

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "fuzz-contract.json"
#: Valid specs that generated ExperimentSpecs start from half of the time, to reach the checks behind the first.
SEED_SPECS = ["examples/risk.yaml", "examples/apples.yaml", "examples/myopia.yaml"]


async def run(count: int = 10_000, seed: int = 0) -> dict[str, Any]:
    specs = [load_spec_file(REPO / name) for name in SEED_SPECS if (REPO / name).exists()]
    with tempfile.TemporaryDirectory() as tmp:
        stack = LocalStack(Path(tmp))
        try:
            await stack.start(Path(tmp) / "data", Path(tmp) / "nats")
            addresses = {name: stack.children[name].address for name in ("aggregator", "generator", "trainer",
                                                                         "evaluator")}
            started = time.monotonic()
            tally = await fuzz(addresses, count, seed=seed, seeds={"selfaware.v1.ExperimentSpec": specs},
                               credentials=stack.credentials)
            elapsed = time.monotonic() - started
            alive = {name: child.process is not None and child.process.poll() is None
                     for name, child in stack.children.items()}
        finally:
            stack.stop()
    return {"requests": count, "seed": seed, "seconds": round(elapsed, 1), "services_alive": alive,
            "outcomes": tally.as_json(),
            "violations": [{"rpc": rpc, "outcome": outcome, "problem": problem, "request": str(message)[:4000]}
                           for rpc, outcome, problem, message in tally.bad]}


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    result = asyncio.run(run(count, seed))
    OUT.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "outcomes"} | {"violations": len(result["violations"])}))


if __name__ == "__main__":
    main()
