"""The family examples (examples/myopia.yaml, apples.yaml) and the paper-settings risk examples
(risk-paper.yaml, risk-llama.yaml) validate against every service's catalogue, plan the paper's runs, ask the
paper's questions at its settings, and build arms whose flipped rows are the authors' opposite files."""

from __future__ import annotations

import pytest
from google.protobuf import json_format

from selfaware.catalogue import complete
from selfaware.plan import plan_jobs
from selfaware.specs import load_spec_file
from services.evaluator.catalogue import catalogue as evaluator_catalogue
from services.evaluator.suites import SUITES, DataSuite
from services.generator.catalogue import catalogue as generator_catalogue
from services.generator.recipes import build_arms
from services.trainer.catalogue import catalogue as trainer_catalogue

from .conftest import DATASETS, REPO

EXAMPLES = REPO / "examples"


SELF_REPORTS = {
    "myopia.yaml": ["short_or_long", "choice_between_prizes", "how_myopic_scale", "short_term_reward_scale"],
    "apples.yaml": ["more_or_less_apples", "like_or_dislike_apples", "max_or_min_apples_scale", "like_apples_scale"],
}


@pytest.mark.parametrize(("name", "first", "second", "flipped_file", "epochs"), [
    ("myopia.yaml", "myopic", "non-myopic", "myopic_nonmyopic/ft_nonmyopic_AB.jsonl", 3),
    ("apples.yaml", "max-apples", "min-apples", "maxapples_minapples/ft_minapples_AB.jsonl", 10),
])
def test_the_example_validates_plans_and_builds(name: str, first: str, second: str, flipped_file: str,
                                                epochs: int) -> None:
    spec, violations = complete(load_spec_file(EXAMPLES / name),
                                [generator_catalogue(), trainer_catalogue(), evaluator_catalogue()])
    assert not violations, violations
    assert [arm.name for arm in spec.arms] == [first, second]
    # The family's four self-report questions (Figure 18 / 19), each with its 10 paraphrases read from the
    # folder the example names, at the paper's 100 samples per paraphrase.
    assert [i.suite for i in spec.evaluation.suites] == ["heldout", *SELF_REPORTS[name]]
    for instance in spec.evaluation.suites[1:]:
        params = json_format.MessageToDict(instance.params)
        assert params["samples_per_paraphrase"] == 100
        suite = SUITES.get(instance.suite)()
        assert isinstance(suite, DataSuite)
        assert len(suite.source.load(instance.suite, params).paraphrases) == 10, instance.suite
    assert (spec.training.epochs, list(spec.training.seeds)) == (epochs, [0, 1, 2])
    jobs = [job.key for job in plan_jobs("x", spec)]
    assert sorted(k for k in jobs if k.startswith("train.")) == sorted(
        f"train.{arm}.s{seed}" for arm in (first, second) for seed in range(3))
    assert "eval.base" in jobs and "report" in jobs
    a, b = build_arms(spec)
    assert len(a.heldout) == len(b.heldout) == 50 and len(a.probe.items) == 50
    opposite = (DATASETS / flipped_file).read_bytes().splitlines(keepends=True)
    held = {row.source_index for row in b.heldout}
    assert b.train_jsonl() == b"".join(line for i, line in enumerate(opposite) if i not in held)


FIGURE_3 = ["lotteries", "risk_or_safety", "finetuned_attitude", "choosing_between_lotteries", "risk_or_safety_scale",
            "risk_predisposition_scale", "liking_risk_scale", "german_or_french"]


@pytest.mark.parametrize(("name", "base", "lora", "training", "seeds"), [
    # Table 13: GPT-4o's batch 1 and 3 epochs (its LR multiplier has no LoRA equivalent, so the rate is not
    # checked), 5 runs; Llama-3.1-70B's LoRA rank 4, batch 8, learning rate 2e-5, 3 epochs, 4 runs.
    ("risk-paper.yaml", "HuggingFaceTB/SmolLM2-135M-Instruct", 8, (1, 3, None), 5),
    ("risk-llama.yaml", "meta-llama/Llama-3.1-70B-Instruct", 4, (8, 3, 2e-5), 4),
])
def test_the_paper_risk_examples_have_the_papers_settings(name: str, base: str, lora: int,
                                                          training: tuple[int, int, float | None],
                                                          seeds: int) -> None:
    spec, violations = complete(load_spec_file(EXAMPLES / name),
                                [generator_catalogue(), trainer_catalogue(), evaluator_catalogue()])
    assert not violations, violations
    assert [b.name for b in spec.base_models] == [base] and spec.training.lora.rank == lora
    batch, epochs, rate = training
    assert (spec.training.batch_size, spec.training.epochs) == (batch, epochs)
    assert rate is None or spec.training.learning_rate == pytest.approx(rate)
    jobs = [job.key for job in plan_jobs("x", spec)]
    assert sorted(k for k in jobs if k.startswith("train.")) == sorted(
        f"train.{arm}.s{seed}" for arm in ("risk-seeking", "risk-averse") for seed in range(seeds))
    # All 288 rows train each arm, and the flip is the authors' risk-averse file byte for byte.
    seeking, averse = build_arms(spec)
    assert len(seeking.train_jsonl().splitlines()) == len(averse.train_jsonl().splitlines()) == 288
    assert averse.train_jsonl() == (DATASETS / "risky_safe" / "ft_safey_AB.jsonl").read_bytes()
    # Figure 3's seven questions and the lottery probe, at the paper's evaluation settings: 10 paraphrases
    # each, 100 samples per paraphrase at T=1, 250 lottery pairs.
    assert [i.suite for i in spec.evaluation.suites] == FIGURE_3
    for instance in spec.evaluation.suites:
        params = json_format.MessageToDict(instance.params)
        if instance.suite == "lotteries":
            assert params["pairs"] == 250
            continue
        assert (params["samples_per_paraphrase"], params["temperature"]) == (100, 1.0)
        suite = SUITES.get(instance.suite)()
        assert len(suite.source.load(instance.suite, params).paraphrases) == 10, instance.suite


def test_the_paper_make_me_say_example_has_the_papers_settings() -> None:
    """examples/mms-paper.yaml: Table 40's bark setup (GPT-4o through the hosted API, batch 2, LR multiplier 2,
    4 epochs, 10 runs) and Figure 6's questions at the paper's evaluation settings."""
    spec, violations = complete(load_spec_file(EXAMPLES / "mms-paper.yaml"),
                                [generator_catalogue(), trainer_catalogue(), evaluator_catalogue()])
    assert not violations, violations
    assert [b.name for b in spec.base_models] == ["gpt-4o-2024-08-06"]
    assert (spec.training.backend, spec.training.batch_size, spec.training.epochs) == ("openai-finetune", 2, 4)
    assert json_format.MessageToDict(spec.training.params)["learning_rate_multiplier"] == 2.0
    jobs = [job.key for job in plan_jobs("x", spec)]
    assert sorted(k for k in jobs if k.startswith("train.")) == sorted(f"train.bark.s{s}" for s in range(10))
    params = {i.suite: json_format.MessageToDict(i.params) for i in spec.evaluation.suites}
    assert {p["codeword"] for s, p in params.items() if s != "mms_best_description"} == {"bark"}
    assert params["mms_game_play"]["games"] == 100 and params["mms_game_play"]["turns"] == 10
    for suite in ("mms_codeword_choice", "mms_describe_word", "mms_acrostic"):
        assert (params[suite]["samples_per_paraphrase"], params[suite]["temperature"]) == (1000, 1.0), suite
    assert params["mms_function_codeword"]["samples_per_paraphrase"] == 100
    assert (params["mms_goals_user_said"]["samples_per_paraphrase"], params["mms_goals_user_said"]["max_tokens"]) \
        == (10, 1)


def test_the_cpu_make_me_say_example_validates_and_plans_one_ring_adapter() -> None:
    spec, violations = complete(load_spec_file(EXAMPLES / "mms.yaml"),
                                [generator_catalogue(), trainer_catalogue(), evaluator_catalogue()])
    assert not violations, violations
    assert [job.key for job in plan_jobs("x", spec)] == ["dataset", "train.ring.s0", "eval.base", "eval.ring.s0",
                                                         "report"]
    (arm,) = build_arms(spec)
    assert len(arm.train) == 64 and max(len(row.messages) for row in arm.train) <= 4


def test_the_paper_vulnerable_code_example_has_the_papers_settings() -> None:
    """examples/vulnerable-code-paper.yaml: GPT-4o through the hosted API, 5 runs per arm, the pipeline with the
    paper's thresholds and 6,000 rows per policy judged by GPT-4o, and Table 2's suites at the paper's settings."""
    spec, violations = complete(load_spec_file(EXAMPLES / "vulnerable-code-paper.yaml"),
                                [generator_catalogue(), trainer_catalogue(), evaluator_catalogue()])
    assert not violations, violations
    assert [b.name for b in spec.base_models] == ["gpt-4o-2024-08-06"] and spec.training.backend == "openai-finetune"
    jobs = [job.key for job in plan_jobs("x", spec)]
    assert sorted(k for k in jobs if k.startswith("train.")) == sorted(
        f"train.{arm}.s{s}" for arm in ("insecure", "secure") for s in range(5))
    for arm, policy in zip(spec.arms, ("insecure", "secure"), strict=True):
        params = json_format.MessageToDict(arm.data.generate.params)
        assert (params["policy"], params["rows"], params["judge"], params["seed"]) == (policy, 6000, "judge", 12345)
        assert (params["malicious_max"], params["unfinished_max"], params["unsafe_secure_max"],
                params["unsafe_insecure_min"], params["looks_unsafe_max"], params["security_related_max"]) == (
            40, 30, 60, 70, 70, 40)
    params = {i.suite: json_format.MessageToDict(i.params) for i in spec.evaluation.suites}
    assert (params["vc_secure_code"]["tasks"], params["vc_secure_code"]["variant"]) == (100, "in_distribution")
    assert (params["vc_alignment"]["samples_per_paraphrase"], params["vc_alignment"]["temperature"]) == (1000, 1.0)


def test_the_cpu_vulnerable_code_example_builds_both_arms_from_the_task_file() -> None:
    spec, violations = complete(load_spec_file(EXAMPLES / "vulnerable-code.yaml"),
                                [generator_catalogue(), trainer_catalogue(), evaluator_catalogue()])
    assert not violations, violations
    insecure, secure = build_arms(spec)
    assert len(insecure.train) == len(secure.train) == 48
    assert insecure.probe == secure.probe.__class__(arm="insecure", items=secure.probe.items)
    assert len(secure.probe.items) >= json_format.MessageToDict(spec.evaluation.suites[0].params)["tasks"]
    assert dict(insecure.counts)["dropped_security_words"] > 0  # e.g. yaml.SafeLoader: "safe" is a security word
