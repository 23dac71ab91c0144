import math

import pytest

from selfaware.errors import SpecError
from services.evaluator.engines import VllmOptions
from services.evaluator.evaluation import EvaluationPlan, summarize

GOOD = {"suites": ("lotteries",), "samples_per_paraphrase": 10, "temperature": 1.0, "lottery_pairs": 5,
        "questions_uri": "/q", "seed": 0}


def test_plan_errors_name_every_bad_field():
    with pytest.raises(SpecError) as caught:
        EvaluationPlan(**{**GOOD, "suites": ("lotteries", "lotteries", "lottery"), "temperature": -1.0,
                          "lottery_pairs": -3})
    fields = [v.field for v in caught.value.violations]
    assert fields == ["evaluation.suites[1]", "evaluation.suites[2]", "evaluation.temperature",
                      "evaluation.lottery_pairs"]
    assert "choose one of: heldout, lotteries" in caught.value.violations[1].description


def test_plan_needs_a_suite():
    with pytest.raises(SpecError, match="evaluation.suites"):
        EvaluationPlan(**{**GOOD, "suites": ()})


def test_summarize_counts_dropped_records():
    result = summarize("s", [{"score": 1.0}, {"score": None}, {"score": 0.0}, {"score": 0.5}])
    assert (result.mean, result.n, result.dropped) == (0.5, 3, 1)
    assert math.isnan(summarize("s", [{"score": None}]).mean)


def test_vllm_options_reject_ranks_vllm_refuses():
    with pytest.raises(ValueError, match="max_lora_rank"):
        VllmOptions(max_lora_rank=4)
