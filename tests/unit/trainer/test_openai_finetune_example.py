"""examples/risk-hosted.yaml (the demo trained through `openai-finetune` against the façade) completes against every
service's catalogue with no violations, and names the façade endpoint its backend and its evaluation use."""

from __future__ import annotations

from pathlib import Path

from selfaware.catalogue import complete
from selfaware.params import struct_to_dict
from selfaware.plan import plan_jobs
from selfaware.specs import load_spec_file
from services.evaluator.catalogue import catalogue as evaluator_catalogue
from services.generator.catalogue import catalogue as generator_catalogue
from services.trainer.catalogue import catalogue as trainer_catalogue

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "risk-hosted.yaml"


def test_the_hosted_example_completes_against_the_catalogues() -> None:
    spec, violations = complete(load_spec_file(EXAMPLE),
                                [generator_catalogue(), trainer_catalogue(), evaluator_catalogue()])
    assert not violations, violations
    assert spec.training.backend == "openai-finetune"
    assert struct_to_dict(spec.training.params) == {"endpoint": "facade", "learning_rate_multiplier": 3.0,
                                                    "suffix": "risk", "poll_interval_s": 2}
    (endpoint,) = spec.endpoints
    assert (endpoint.name, endpoint.base_url) == ("facade", "http://127.0.0.1:8012/v1")
    assert (spec.evaluation.engine, spec.evaluation.endpoint) == ("openai", "facade")
    assert sorted(j.key for j in plan_jobs("x", spec) if j.key.startswith("train.")) == [
        "train.risk-averse.s0", "train.risk-seeking.s0"]
