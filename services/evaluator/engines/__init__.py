"""Model engines: one loaded base model answering next-token and sampling requests for itself and its adapters.

Importing this package never imports torch, transformers or vLLM; each engine imports them when it is built.
"""

from ._api import (
    ENGINES,
    Adapter,
    ChoiceRequest,
    Messages,
    ModelEngine,
    SampleRequest,
    TokenProbs,
    build_engine,
    engine,
)
from .auto_engine import auto_engine
from .builtin import hf_engine, openai_engine, vllm_engine
from .options import EngineDeviceError, HfOptions, OptionError, VllmOptions
from .profiles import PROFILES, EngineProfile, resolve_profile

__all__ = [
    "ENGINES",
    "PROFILES",
    "Adapter",
    "ChoiceRequest",
    "EngineDeviceError",
    "EngineProfile",
    "HfOptions",
    "Messages",
    "ModelEngine",
    "OptionError",
    "SampleRequest",
    "TokenProbs",
    "VllmOptions",
    "auto_engine",
    "build_engine",
    "engine",
    "hf_engine",
    "openai_engine",
    "resolve_profile",
    "vllm_engine",
]
