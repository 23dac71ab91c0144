"""The `openai` engine against the local OpenAI-compatible server (`services.evaluator.openai_server`) serving the
tiny model in a child process: its answers equal the in-process HF engine's, adapters load at run time, and a
cached rerun sends no request at all.

`tiny_model_dir` comes from tests/conftest.py; `hf_engine` and `lora_adapters` from tests/slow/conftest.py.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from selfaware.openai_endpoint import EndpointRefused
from services.evaluator.engines import Adapter, ChoiceRequest, ModelEngine, SampleRequest, build_engine
from services.evaluator.engines.openai_engine import lora_name
from services.evaluator.response_cache import CachedEngine, ResponseCache
from tests.slow.local_server import SERVED, start_server, stop_server, url_of
from tests.slow.mixed_batch import PROMPTS, max_difference

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]



@pytest.fixture(scope="module")
def server_process(tiny_model_dir: Path) -> Iterator[subprocess.Popen[str]]:
    process = start_server(tiny_model_dir)
    yield process
    stop_server(process)


@pytest.fixture(scope="module")
def server(server_process: subprocess.Popen[str], hf_engine: ModelEngine,
           lora_adapters: tuple[Adapter, Adapter]) -> str:
    """The server's URL. It asks for the in-process fixtures first, so that they load while the child does."""
    return url_of(server_process)


@pytest.fixture(scope="module")
def remote(server: str) -> Iterator[ModelEngine]:
    engine = build_engine("openai", SERVED, base_url=server, backoff_s=0.05)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def hashed_adapter(lora_adapters: tuple[Adapter, Adapter]) -> Adapter:
    """The first random adapter with its content hash, as the artifact store names it."""
    adapter = lora_adapters[0]
    digest = hashlib.sha256((Path(adapter.path) / "adapter_model.safetensors").read_bytes()).hexdigest()
    return dataclasses.replace(adapter, sha256=digest)


def get(server: str, route: str) -> dict:
    with urllib.request.urlopen(f"{server}/{route}", timeout=10) as response:
        return json.load(response)


def test_next_token_probs_equal_the_in_process_engine(remote, hf_engine):
    requests = [ChoiceRequest(p) for p in PROMPTS]
    for got, expected in zip(remote.next_token_probs(requests, top_k=5), hf_engine.next_token_probs(requests, 5),
                             strict=True):
        assert got.keys() == expected.keys()
        assert max_difference(got, expected) < 1e-4


def test_samples_equal_the_in_process_engine(remote, hf_engine):
    greedy = [SampleRequest(p, None, n=2, temperature=0.0, max_tokens=8, seed=0) for p in PROMPTS]
    seeded = [SampleRequest(PROMPTS[0], None, n=4, temperature=1.0, max_tokens=5, seed=3)]
    assert remote.sample(greedy) == hf_engine.sample(greedy)
    assert remote.sample(seeded) == hf_engine.sample(seeded)  # the server passes the seed to the same sampler


def test_adapters_load_at_run_time_and_change_the_answers(server, remote, hf_engine, lora_adapters, hashed_adapter):
    plain = lora_adapters[1]
    requests = [ChoiceRequest(PROMPTS[0], adapter) for adapter in (None, hashed_adapter, plain)]
    base, hashed, tuned = remote.next_token_probs(requests, top_k=5)
    reference = hf_engine.next_token_probs(requests, top_k=5)
    assert max_difference(hashed, reference[1]) < 1e-4 and max_difference(tuned, reference[2]) < 1e-4
    assert max_difference(hashed, base) > 0.01 and max_difference(tuned, base) > 0.01
    remote.next_token_probs(requests[1:], top_k=5)
    served = {model["id"] for model in get(server, "models")["data"]}
    assert served == {SERVED, f"sa-{hashed_adapter.sha256[:16]}", lora_name(plain)}
    assert get(server, "stats")["load_lora_adapter"] == 2  # once per adapter


def test_an_unknown_model_is_refused_with_404(server):
    engine = build_engine("openai", "nope", base_url=server)
    try:
        with pytest.raises(EndpointRefused, match="HTTP 404: The model `nope` does not exist") as caught:
            engine.next_token_probs([ChoiceRequest(PROMPTS[0])])
        assert caught.value.status == 404
    finally:
        engine.close()


def test_a_cached_rerun_sends_no_request(server, remote, hashed_adapter, tmp_path):
    def evaluate(engine: ModelEngine) -> tuple[list, list]:
        choices = [ChoiceRequest(p, adapter) for p in PROMPTS for adapter in (None, hashed_adapter)]
        samples = [SampleRequest(p, hashed_adapter, n=3, temperature=1.0, max_tokens=4, seed=7) for p in PROMPTS]
        return engine.next_token_probs(choices, top_k=5), engine.sample(samples)

    path = tmp_path / "responses.sqlite"
    identity = f"openai:{server}:{SERVED}"
    with_cache = ResponseCache(path)
    first = CachedEngine(remote, with_cache, identity)
    results = evaluate(first)
    assert (first.hits, first.misses) == (0, 6 + 9)
    with_cache.close()
    before = get(server, "stats")

    reopened = ResponseCache(path)
    second = CachedEngine(remote, reopened, identity)
    assert evaluate(second) == results
    assert (second.hits, second.misses) == (15, 0)
    assert get(server, "stats") == before
    reopened.close()
