"""The adapter's `adapter_config.json` is the same bytes whatever order peft wrote its set-valued fields in, so the
same training has the same sha256 in every trainer process (string hash seeds differ between processes)."""

from __future__ import annotations

import json
from pathlib import Path

from selfaware.store import sha256_hex, tar_directory
from services.trainer.backends.peft_lora import sort_adapter_config

MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def saved(folder: Path, modules_in_file_order: list[str]) -> tuple[Path, object]:
    """A real peft LoraConfig saved by peft, with `target_modules` as another process might have listed them."""
    from peft import LoraConfig

    config = LoraConfig(r=8, lora_alpha=16, target_modules=MODULES, task_type="CAUSAL_LM")
    assert isinstance(config.target_modules, set)
    config.save_pretrained(str(folder))
    path = folder / "adapter_config.json"
    data = json.loads(path.read_text())
    assert sorted(data["target_modules"]) == sorted(MODULES)
    data["target_modules"] = modules_in_file_order
    path.write_text(json.dumps(data, indent=2, sort_keys=True))
    (folder / "adapter_model.safetensors").write_bytes(b"identical weights")
    return folder, config


def test_the_same_adapter_hashes_the_same_whatever_the_set_order(tmp_path: Path) -> None:
    one, config = saved(tmp_path / "one", MODULES)
    two, _ = saved(tmp_path / "two", MODULES[::-1])
    assert sha256_hex(tar_directory(one)) != sha256_hex(tar_directory(two))  # what the probe saw
    sort_adapter_config(one, config)
    sort_adapter_config(two, config)
    assert (one / "adapter_config.json").read_bytes() == (two / "adapter_config.json").read_bytes()
    assert sha256_hex(tar_directory(one)) == sha256_hex(tar_directory(two))
    data = json.loads((one / "adapter_config.json").read_text())
    assert data["target_modules"] == sorted(MODULES) and data["r"] == 8
