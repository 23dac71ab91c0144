"""Offline vLLM engine: one base-model load serves the base model and every adapter, in large batches.

Throughput comes from batching: each call hands all its requests to one `generate` (two when the LoRA guard
splits it), samples use `n=` and prefix caching shares the prompt's KV blocks between them. Device, dtype, KV
cache and tensor parallelism come from the engine profile (`profiles.py`), checked against the GPUs torch sees
before vLLM starts.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Sequence
from typing import cast

import structlog
import torch
from vllm import LLM, SamplingParams
from vllm.inputs import TokensPrompt
from vllm.lora.request import LoRARequest
from vllm.outputs import RequestOutput

from ._api import Adapter, ChoiceRequest, Messages, SampleRequest, TokenProbs
from .chat import prompt_token_ids
from .lora_guard import split_base_from_adapters
from .options import VllmOptions

log = structlog.get_logger(__name__)


class VllmEngine:
    """`vllm.LLM` with LoRA enabled, built from `VllmOptions`; calls are serialised because `LLM` is not
    thread-safe."""

    def __init__(self, model_dir: str, options: VllmOptions) -> None:
        options.require_devices(torch.cuda.device_count() if torch.cuda.is_available() else 0)
        if options.device == "cpu":
            # vLLM reads this in its worker process, which inherits our environment; the default binds one thread.
            os.environ["VLLM_CPU_OMP_THREADS_BIND"] = options.omp_threads_bind
        self._options = options
        #: See `lora_guard`; a plain attribute so tests can show what happens without it.
        self.guard_mixed_batches = options.guard_mixed_batches
        self._lock = threading.Lock()
        self._llm: LLM | None = LLM(model=model_dir, **options.llm_arguments())
        self._tokenizer = self._llm.get_tokenizer()
        #: (name, path) -> LoRA int id; ids are never reused, so vLLM never serves a stale adapter under an id.
        self._lora_ids: dict[tuple[str, str], int] = {}
        log.info("vllm_engine_ready", model_dir=model_dir, profile=options.profile, device=options.device,
                 dtype=options.dtype, tensor_parallel_size=options.tensor_parallel_size,
                 max_loras=options.max_loras, guard_mixed_batches=options.guard_mixed_batches)

    def next_token_probs(self, requests: Sequence[ChoiceRequest], top_k: int = 5) -> list[TokenProbs]:
        params = SamplingParams(max_tokens=1, temperature=0.0, logprobs=top_k)
        outputs = self._generate([(r.messages, r.adapter, params) for r in requests])
        results = []
        for output in outputs:
            logprobs = output.outputs[0].logprobs
            if not isinstance(logprobs, list):
                raise TypeError(f"vLLM returned no per-position logprobs list ({type(logprobs).__name__})")
            top = logprobs[0]
            probs: TokenProbs = {}
            for logprob in top.values():
                if logprob.rank is not None and logprob.rank <= top_k:
                    text = logprob.decoded_token or ""
                    probs[text] = probs.get(text, 0.0) + math.exp(logprob.logprob)
            results.append(probs)
        return results

    def sample(self, requests: Sequence[SampleRequest]) -> list[list[str]]:
        calls = [
            (r.messages, r.adapter,
             SamplingParams(n=r.n, temperature=r.temperature, max_tokens=r.max_tokens, seed=r.seed))
            for r in requests
        ]
        return [[completion.text for completion in output.outputs] for output in self._generate(calls)]

    def reset_prefix_cache(self) -> None:
        """Forget cached prompt blocks, so a benchmark's repeat pays for its prompts as a first evaluation does."""
        with self._lock:
            if self._llm is not None:
                self._llm.reset_prefix_cache()

    def close(self) -> None:
        """Stop the engine-core process now rather than at garbage collection."""
        with self._lock:
            if self._llm is not None:
                self._llm.llm_engine.engine_core.shutdown()
                self._llm = None

    def _generate(self, calls: list[tuple[Messages, Adapter | None, SamplingParams]]) -> list[RequestOutput]:
        """Run every call, one `generate` per LoRA-guard group, and return outputs in call order."""
        with self._lock:
            if self._llm is None:
                raise RuntimeError("the engine is closed")
            outputs: list[RequestOutput | None] = [None] * len(calls)
            groups = split_base_from_adapters([adapter for _, adapter, _ in calls],
                                              guard=self.guard_mixed_batches)
            for group in groups:
                prompts = [TokensPrompt(prompt_token_ids=prompt_token_ids(self._tokenizer, calls[i][0]))
                           for i in group]
                loras = [self._lora_request(calls[i][1]) for i in group]
                results = self._llm.generate(
                    prompts,
                    [calls[i][2] for i in group],
                    # None entries (base requests) only occur unguarded; vLLM accepts them at run time.
                    lora_request=cast(list[LoRARequest], loras) if any(loras) else None,
                    use_tqdm=False,
                )
                for i, result in zip(group, results, strict=True):
                    outputs[i] = result
            return [output for output in outputs if output is not None]

    def _lora_request(self, adapter: Adapter | None) -> LoRARequest | None:
        if adapter is None:
            return None
        key = (adapter.name, adapter.path)
        if key not in self._lora_ids:
            self._lora_ids[key] = len(self._lora_ids) + 1
        lora_id = self._lora_ids[key]
        return LoRARequest(f"{adapter.name}#{lora_id}", lora_id, adapter.path)

