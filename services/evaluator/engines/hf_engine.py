"""transformers + peft engine: batched, exact, and slower than vLLM; the fallback and the tests' reference."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence

import structlog
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from ._api import Adapter, ChoiceRequest, SampleRequest, TokenProbs
from .chat import prompt_token_ids
from .options import HfOptions

log = structlog.get_logger(__name__)


class HfEngine:
    """One fp32 base model; adapters are loaded into it on first use and switched per batch.

    Calls are serialised by a lock: sampling seeds torch's global generator, which concurrent calls would share.
    """

    def __init__(self, model_dir: str, options: HfOptions) -> None:
        if options.threads is not None:
            torch.set_num_threads(options.threads)
        self._options = options
        self._lock = threading.Lock()
        self._tokenizer = AutoTokenizer.from_pretrained(model_dir)
        base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        self._model: PreTrainedModel | PeftModel | None = base.eval()
        self._pad_id = self._tokenizer.pad_token_id if self._tokenizer.pad_token_id is not None else 0
        #: (name, path) -> the peft adapter name; peft names cannot hold dots, so they are generated.
        self._adapters: dict[tuple[str, str], str] = {}
        log.info("hf_engine_ready", model_dir=model_dir, max_batch_sequences=options.max_batch_sequences)

    def next_token_probs(self, requests: Sequence[ChoiceRequest], top_k: int = 5) -> list[TokenProbs]:
        results: list[TokenProbs] = [{} for _ in requests]
        with self._lock, torch.inference_mode():
            for adapter, indices in _group_by_adapter([r.adapter for r in requests]):
                with self._use(adapter):
                    for start in range(0, len(indices), self._options.max_batch_sequences):
                        chunk = indices[start : start + self._options.max_batch_sequences]
                        probs = self._last_token_probs([requests[i].messages for i in chunk])
                        values, ids = probs.topk(top_k, dim=-1)
                        for row, i in enumerate(chunk):
                            results[i] = self._token_dict(ids[row].tolist(), values[row].tolist())
        return results

    def sample(self, requests: Sequence[SampleRequest]) -> list[list[str]]:
        results: list[list[str]] = [[] for _ in requests]
        with self._lock, torch.inference_mode():
            for adapter, indices in _group_by_adapter([r.adapter for r in requests]):
                with self._use(adapter):
                    for i in indices:
                        results[i] = self._sample_one(requests[i])
        return results

    def close(self) -> None:
        with self._lock:
            self._model = None
            self._adapters.clear()

    def _loaded(self) -> PreTrainedModel | PeftModel:
        if self._model is None:
            raise RuntimeError("the engine is closed")
        return self._model

    def _last_token_probs(self, conversations: list[tuple[dict[str, str], ...]]) -> torch.Tensor:
        """Softmax of the last position's logits, for left-padded prompts with positions counted per row."""
        rows = [prompt_token_ids(self._tokenizer, messages) for messages in conversations]
        width = max(len(row) for row in rows)
        input_ids = torch.tensor([[self._pad_id] * (width - len(row)) + row for row in rows])
        mask = torch.tensor([[0] * (width - len(row)) + [1] * len(row) for row in rows])
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        logits = self._loaded()(input_ids=input_ids, attention_mask=mask, position_ids=positions).logits
        return torch.softmax(logits[:, -1, :].float(), dim=-1)

    def _sample_one(self, request: SampleRequest) -> list[str]:
        """One request's samples, in chunks; seeded per request so batching elsewhere cannot change them."""
        prompt = torch.tensor([prompt_token_ids(self._tokenizer, request.messages)])
        torch.manual_seed(request.seed)
        if request.temperature == 0:
            return self._generate(prompt, request, count=1) * request.n
        texts: list[str] = []
        while len(texts) < request.n:
            count = min(self._options.max_batch_sequences, request.n - len(texts))
            texts += self._generate(prompt, request, count)
        return texts

    def _generate(self, prompt: torch.Tensor, request: SampleRequest, count: int) -> list[str]:
        """Plain sampling (no top-k/top-p, unlike transformers' defaults), as vLLM and the paper's API do."""
        greedy = request.temperature == 0
        # transformers 5 types PreTrainedModel without GenerationMixin; causal LMs and peft wrappers have it.
        output = self._loaded().generate(  # type: ignore[operator]
            input_ids=prompt,
            attention_mask=torch.ones_like(prompt),
            do_sample=not greedy,
            temperature=None if greedy else request.temperature,
            top_k=None if greedy else 0,
            top_p=None if greedy else 1.0,
            max_new_tokens=request.max_tokens,
            num_return_sequences=count,
            pad_token_id=self._pad_id,
        )
        return self._tokenizer.batch_decode(output[:, prompt.shape[1] :], skip_special_tokens=True)

    def _token_dict(self, ids: list[int], probs: list[float]) -> TokenProbs:
        out: TokenProbs = {}
        for token_id, prob in zip(ids, probs, strict=True):
            text = str(self._tokenizer.decode([token_id]))
            out[text] = out.get(text, 0.0) + prob
        return out

    @contextlib.contextmanager
    def _use(self, adapter: Adapter | None) -> Iterator[None]:
        """Route forward passes through `adapter`, or through the bare base model for None."""
        model = self._loaded()
        if adapter is None:
            if isinstance(model, PeftModel):
                with model.disable_adapter():
                    yield
            else:
                yield
            return
        key = (adapter.name, adapter.path)
        if key not in self._adapters:
            name = f"adapter_{len(self._adapters)}"
            if isinstance(model, PeftModel):
                model.load_adapter(adapter.path, adapter_name=name)
            else:
                self._model = PeftModel.from_pretrained(model, adapter.path, adapter_name=name).eval()
            self._adapters[key] = name
            log.info("adapter_loaded", adapter=adapter.name, path=adapter.path)
        peft_model = self._loaded()
        assert isinstance(peft_model, PeftModel)
        peft_model.set_adapter(self._adapters[key])
        yield


def _group_by_adapter(adapters: list[Adapter | None]) -> list[tuple[Adapter | None, list[int]]]:
    """Request indices per adapter, in first-seen order: peft runs one active adapter per forward pass."""
    groups: dict[Adapter | None, list[int]] = {}
    for i, adapter in enumerate(adapters):
        groups.setdefault(adapter, []).append(i)
    return list(groups.items())
