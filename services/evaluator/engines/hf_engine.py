"""transformers + peft engine: the fallback and the tests' reference.

On CPU it samples faster than vLLM: it computes each prompt once and decodes all of the prompt's samples from
that one KV cache, while vLLM CPU shares only full 32-token blocks and recomputes the rest per sample. The model
goes on one device (`HfOptions.device`: CUDA in bfloat16 where torch sees it, else the CPU in float32).

Requests for different adapters share batches: every forward names each row's adapter (peft's `adapter_names`),
so K adapters cost one base pass over all rows plus each adapter's small LoRA product on its own rows, rather
than K passes. A base request's row is named `__base__`, which peft's LoRA layers skip, so it never gets an
adapter whatever shares its batch.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from ._api import Adapter, ChoiceRequest, SampleRequest, TokenProbs
from .chat import prompt_token_ids
from .options import HfOptions, hf_placement

log = structlog.get_logger(__name__)

#: peft's row name for "no adapter": its LoRA layers add nothing to such rows (`_mixed_batch_forward`).
BASE = "__base__"


class HfEngine:
    """One base model on one device; adapters are loaded into it on first use and chosen per row of a batch.

    Calls are serialised by a lock: adapters are loaded into the one shared model.
    """

    def __init__(self, model_dir: str, options: HfOptions) -> None:
        if options.threads is not None:
            torch.set_num_threads(options.threads)
        self._options = options
        self._lock = threading.Lock()
        placement = hf_placement(options, torch.cuda.is_available())
        #: Every tensor the engine makes goes here, beside the model's weights.
        self._device = torch.device(placement.device)
        self._tokenizer = AutoTokenizer.from_pretrained(model_dir, trust_remote_code=False)
        base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=getattr(torch, placement.dtype),
                                                    trust_remote_code=False).to(self._device)
        self._model: PreTrainedModel | PeftModel | None = base.eval()
        self._pad_id = self._tokenizer.pad_token_id if self._tokenizer.pad_token_id is not None else 0
        eos = base.generation_config.eos_token_id
        if eos is None:
            eos = self._tokenizer.eos_token_id
        #: Tokens that end a sample, as `generate` would stop on them.
        self._eos_ids = torch.tensor(eos if isinstance(eos, list) else [eos], device=self._device)
        #: (name, path) -> the peft adapter name; peft names cannot hold dots, so they are generated.
        self._adapters: dict[tuple[str, str], str] = {}
        log.info("hf_engine_ready", model_dir=model_dir, device=placement.device, dtype=placement.dtype,
                 max_batch_sequences=options.max_batch_sequences)

    def next_token_probs(self, requests: Sequence[ChoiceRequest], top_k: int = 5) -> list[TokenProbs]:
        results: list[TokenProbs] = [{} for _ in requests]
        with self._lock, torch.inference_mode():
            for start in range(0, len(requests), self._options.max_batch_sequences):
                chunk = requests[start : start + self._options.max_batch_sequences]
                probs = self._last_token_probs(chunk)
                values, ids = probs.topk(top_k, dim=-1)
                for row in range(len(chunk)):
                    results[start + row] = self._token_dict(ids[row].tolist(), values[row].tolist())
        return results

    def sample(self, requests: Sequence[SampleRequest]) -> list[list[str]]:
        with self._lock, torch.inference_mode():
            return self._sample_batches(list(requests))

    def close(self) -> None:
        with self._lock:
            self._model = None
            self._adapters.clear()

    def _loaded(self) -> PreTrainedModel | PeftModel:
        if self._model is None:
            raise RuntimeError("the engine is closed")
        return self._model

    def _left_padded(self, rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Token ids, attention mask and per-row positions of prompts padded on the left to one width."""
        width = max(len(row) for row in rows)
        input_ids = torch.tensor([[self._pad_id] * (width - len(row)) + row for row in rows], device=self._device)
        mask = torch.tensor([[0] * (width - len(row)) + [1] * len(row) for row in rows], device=self._device)
        return input_ids, mask, (mask.cumsum(-1) - 1).clamp(min=0)

    def _last_token_probs(self, requests: Sequence[ChoiceRequest]) -> torch.Tensor:
        """Softmax of the last position's logits, for left-padded prompts with positions counted per row."""
        rows = [prompt_token_ids(self._tokenizer, r.messages) for r in requests]
        input_ids, mask, positions = self._left_padded(rows)
        routing = self._routing([r.adapter for r in requests])
        logits = self._loaded()(input_ids=input_ids, attention_mask=mask, position_ids=positions, **routing).logits
        return torch.softmax(logits[:, -1, :].float(), dim=-1)

    def _sample_batches(self, requests: list[SampleRequest]) -> list[list[str]]:
        """Samples of the requests, whatever their adapters, packed into batches of at most `max_batch_sequences`.

        Each prompt is computed once; its KV cache is then repeated for its samples, which decode together. A
        request's `n` is cut into fixed pieces, each with its own generator seeded from the request's seed and the
        piece's index, so a request's random draws never depend on the other requests in the call.
        """
        limit = self._options.max_batch_sequences
        pieces: list[_Piece] = []
        for index, request in enumerate(requests):
            wanted = 1 if request.temperature == 0 else request.n
            for number, first in enumerate(range(0, wanted, limit)):
                pieces.append(_Piece(index, number, min(limit, wanted - first)))
        batches: list[list[_Piece]] = [[]]
        for piece in pieces:
            if sum(p.count for p in batches[-1]) + piece.count > limit:
                batches.append([])
            batches[-1].append(piece)
        texts: list[list[str]] = [[] for _ in requests]
        for batch in filter(None, batches):
            for piece, samples in zip(batch, self._decode([requests[p.request] for p in batch], batch), strict=True):
                texts[piece.request] += samples
        return [t * request.n if request.temperature == 0 else t for t, request in zip(texts, requests, strict=True)]

    def _decode(self, requests: list[SampleRequest], pieces: list[_Piece]) -> list[list[str]]:
        """Plain ancestral sampling (no top-k/top-p), as vLLM and the paper's API do; T=0 is greedy."""
        rows = [prompt_token_ids(self._tokenizer, r.messages) for r in requests]
        input_ids, mask, positions = self._left_padded(rows)
        routing = self._routing([r.adapter for r in requests])
        model = self._loaded()
        output = model(input_ids=input_ids, attention_mask=mask, position_ids=positions, use_cache=True,
                       logits_to_keep=1, **routing)
        # Every prompt row becomes `count` sample rows that share its cache (and its adapter).
        counts = [p.count for p in pieces]
        expand = torch.repeat_interleave(torch.arange(len(pieces), device=self._device),
                                         torch.tensor(counts, device=self._device))
        if routing:
            routing = {"adapter_names": [n for n, c in zip(routing["adapter_names"], counts, strict=True)
                                         for _ in range(c)]}
        cache = output.past_key_values
        cache.batch_select_indices(expand)
        logits, mask, position = output.logits[expand, -1, :], mask[expand], positions[expand, -1]
        generators = [torch.Generator(self._device).manual_seed(_piece_seed(r.seed, p.number))
                      for r, p in zip(requests, pieces, strict=True)]
        spans = torch.tensor([0, *[p.count for p in pieces]]).cumsum(0).tolist()
        finished = torch.zeros(len(expand), dtype=torch.bool, device=self._device)
        steps: list[torch.Tensor] = []
        for step in range(max(r.max_tokens for r in requests)):
            chosen = torch.empty(len(expand), dtype=torch.long, device=self._device)
            for k, (request, generator) in enumerate(zip(requests, generators, strict=True)):
                rows = slice(spans[k], spans[k + 1])
                if step >= request.max_tokens:
                    finished[rows] = True
                elif request.temperature == 0:
                    chosen[rows] = logits[rows].argmax(-1)
                else:
                    probs = torch.softmax(logits[rows].float() / request.temperature, dim=-1)
                    chosen[rows] = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            chosen[finished] = self._pad_id
            steps.append(chosen)
            finished |= torch.isin(chosen, self._eos_ids)
            if bool(finished.all()):
                break
            mask = torch.cat([mask, torch.ones(len(expand), 1, dtype=mask.dtype, device=self._device)], dim=1)
            position = position + 1
            logits = model(input_ids=chosen[:, None], attention_mask=mask, position_ids=position[:, None],
                           past_key_values=cache, use_cache=True, **routing).logits[:, -1, :]
        tokens = torch.stack(steps, dim=1).tolist()
        texts = self._tokenizer.batch_decode(tokens, skip_special_tokens=True)
        return [texts[spans[k]: spans[k + 1]] for k in range(len(pieces))]

    def _token_dict(self, ids: list[int], probs: list[float]) -> TokenProbs:
        out: TokenProbs = {}
        for token_id, prob in zip(ids, probs, strict=True):
            text = str(self._tokenizer.decode([token_id]))
            out[text] = out.get(text, 0.0) + prob
        return out

    def _routing(self, adapters: Sequence[Adapter | None]) -> dict[str, list[str]]:
        """Forward keyword arguments that send each row through its own adapter, loading any new one first.

        Empty while no adapter was ever loaded (the model is the bare base model then); otherwise every row is
        named, base rows `__base__`, so that no row falls back to whichever adapter peft last made active.
        """
        names = [BASE if adapter is None else self._adapter_name(adapter) for adapter in adapters]
        return {"adapter_names": names} if isinstance(self._loaded(), PeftModel) else {}

    def _adapter_name(self, adapter: Adapter) -> str:
        """The peft name of `adapter`, loaded into the model on first use."""
        key = (adapter.name, adapter.path)
        if key not in self._adapters:
            name = f"adapter_{len(self._adapters)}"
            model = self._loaded()
            if isinstance(model, PeftModel):
                model.load_adapter(adapter.path, adapter_name=name)
                model.eval()
            else:
                self._model = PeftModel.from_pretrained(model, adapter.path, adapter_name=name).eval()
            self._adapters[key] = name
            log.info("adapter_loaded", adapter=adapter.name, path=adapter.path)
        return self._adapters[key]


@dataclass(frozen=True)
class _Piece:
    """Up to `max_batch_sequences` of one request's samples: the unit of batching."""

    request: int
    number: int
    count: int


def _piece_seed(seed: int, number: int) -> int:
    """A piece's generator seed: the request's seed for the first piece, distinct derived seeds after it."""
    return seed if number == 0 else (seed * 1_000_003 + number) % 2**63
