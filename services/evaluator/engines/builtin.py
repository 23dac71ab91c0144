"""The built-in engines' factories. Each imports its heavy library only when called, so listing engines is cheap."""

from __future__ import annotations

from typing import Any

from ._api import ModelEngine, engine
from .options import HfOptions, VllmOptions


@engine("vllm")
def vllm_engine(model_dir: str, **options: Any) -> ModelEngine:
    """Offline vLLM: one base-model load serves every adapter; `auto`'s choice on CUDA."""
    from .vllm_engine import VllmEngine

    return VllmEngine(model_dir, VllmOptions(**options))


@engine("hf")
def hf_engine(model_dir: str, **options: Any) -> ModelEngine:
    """transformers + peft: `auto`'s choice on the CPU, and the reference in tests."""
    from .hf_engine import HfEngine

    return HfEngine(model_dir, HfOptions(**options))


@engine("openai")
def openai_engine(model_dir: str, **options: Any) -> ModelEngine:
    """Any OpenAI-compatible endpoint (e.g. a vLLM server); `model_dir` is the served model unless `model` is set."""
    if "api_key" in options:
        raise ValueError("api_key: the key is never an option; set api_key_env or api_key_file")
    from selfaware.openai_endpoint import EndpointOptions

    from .openai_engine import OpenAIEngine

    return OpenAIEngine(EndpointOptions(**{**options, "model": options.get("model") or model_dir}))
