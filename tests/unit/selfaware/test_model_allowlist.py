"""The base-model allowlist: published by the trainer and the evaluator, checked at submit by the catalogue with
the field named, and again when a service loads a model; and no load runs a model's own code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from selfaware.catalogue import complete
from selfaware.model_allowlist import (
    DEFAULT_ALLOWED,
    ModelNotAllowed,
    check_base_model,
    model_problem,
    parse_allowed,
)
from selfaware.specs import spec_from_dict
from selfaware.v1 import spec_pb2
from services.evaluator.catalogue import catalogue as evaluator_catalogue
from services.evaluator.config import EvaluatorConfig
from services.evaluator.engines.options import VllmOptions
from services.generator.catalogue import catalogue as generator_catalogue
from services.trainer.catalogue import catalogue as trainer_catalogue
from services.trainer.config import TrainerConfig

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))


def _spec(*models: dict) -> spec_pb2.ExperimentSpec:
    return spec_from_dict({"base_models": list(models), "arms": {"a": {"data": {"import": "/data/x.jsonl"}}},
                           "evaluation": {"suites": ["heldout"]}})


def test_the_default_allows_the_tiny_model_and_every_example_base_model() -> None:
    allowed = parse_allowed(DEFAULT_ALLOWED)
    names = {name for path in EXAMPLES
             for name in re.findall(r"name: ([\w.-]+/[\w.-]+|gpt-[\w.-]+)", path.read_text())}  # sweeps' too
    assert {"HuggingFaceTB/SmolLM2-135M-Instruct", "Qwen/Qwen2.5-7B-Instruct", "gpt-4o-2024-08-06"} <= names
    for name in names | {"HuggingFaceTB/SmolLM2-135M-Instruct"}:
        assert model_problem(spec_pb2.BaseModel(name=name), allowed, "trainer") is None, name
    for name in ("evil/backdoored-llama", "meta-llama/Llama-3.2-3B-Instruct-but-not", "../x", ""):
        assert model_problem(spec_pb2.BaseModel(name=name), allowed, "trainer") is not None, name


def test_paths_are_judged_by_their_real_prefix(tmp_path: Path) -> None:
    (tmp_path / "models" / "m").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "models" / "link").symlink_to(tmp_path / "elsewhere")
    allowed = parse_allowed(f"HuggingFaceTB/*,{tmp_path / 'models'}")
    assert model_problem(spec_pb2.BaseModel(name="x", path=str(tmp_path / "models" / "m")), allowed, "t") is None
    for path in (tmp_path / "elsewhere", tmp_path / "models" / "link", tmp_path / "models" / ".." / "elsewhere"):
        field, why = model_problem(spec_pb2.BaseModel(name="HuggingFaceTB/x", path=str(path)), allowed, "t")  # type: ignore[misc]
        assert field == "path" and "allowed model folders" in why


def test_submit_refuses_a_model_off_a_published_list_naming_the_field(tmp_path: Path) -> None:
    config = TrainerConfig(allowed_base_models=f"HuggingFaceTB/SmolLM2-*,{tmp_path}")
    published = trainer_catalogue(config)
    assert list(published.allowed_base_models) == ["HuggingFaceTB/SmolLM2-*", str(tmp_path.resolve())]
    catalogues = [generator_catalogue(), published, evaluator_catalogue(EvaluatorConfig(allowed_base_models="*,/"))]
    _, bad = complete(_spec({"name": "evil/model"}, {"name": "m", "path": "/opt/models/m"}), catalogues)
    fields = {v.field: v.description for v in bad}
    assert "trainer's allowed base models" in fields["base_models[0].name"]
    assert "trainer's allowed model folders" in fields["base_models[1].path"]
    _, bad = complete(_spec({"name": "HuggingFaceTB/SmolLM2-135M-Instruct"}), catalogues)
    assert not [v for v in bad if v.field.startswith("base_models")]


def test_a_service_refuses_to_load_a_model_off_its_list() -> None:
    allowed = TrainerConfig(allowed_base_models="HuggingFaceTB/*").allowed_models()
    check_base_model(spec_pb2.BaseModel(name="HuggingFaceTB/SmolLM2-135M-Instruct"), allowed, "trainer")
    with pytest.raises(ModelNotAllowed, match=r"^base_model\.name: 'evil/model' is not among the trainer's"):
        check_base_model(spec_pb2.BaseModel(name="evil/model"), allowed, "trainer")
    with pytest.raises(Exception, match="allowed_base_models"):
        TrainerConfig(allowed_base_models=" , ")


def _loads(path: Path) -> list[ast.Call]:
    """Every `Auto*.from_pretrained(...)` and `LLM(...)` call in a file."""
    calls = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            if (isinstance(func, ast.Attribute) and func.attr == "from_pretrained" and isinstance(func.value, ast.Name)
                    and func.value.id.startswith("Auto")) or (isinstance(func, ast.Name) and func.id == "LLM"):
                calls.append(node)
    return calls


def test_every_model_load_turns_remote_code_off_explicitly() -> None:
    files = [p for folder in ("selfaware", "services") for p in (REPO / folder).rglob("*.py")]
    loads = [(path, call) for path in files for call in _loads(path)]
    assert len(loads) >= 6
    for path, call in loads:
        if isinstance(call.func, ast.Name):  # LLM(model=..., **options.llm_arguments())
            assert VllmOptions().llm_arguments()["trust_remote_code"] is False
            continue
        flags = [k.value for k in call.keywords if k.arg == "trust_remote_code"]
        assert flags and isinstance(flags[0], ast.Constant) and flags[0].value is False, f"{path}:{call.lineno}"
