"""Spec -> evaluation: which instances run on which models, their contexts, endpoints, chunks and metrics."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from selfaware.catalogue import complete
from selfaware.errors import DataError
from selfaware.specs import spec_from_dict
from selfaware.v1 import records_pb2 as rec
from services.evaluator import convert
from services.evaluator.catalogue import catalogue
from services.evaluator.engines import Adapter


def spec(questions_dir: Path, **evaluation):
    data = {
        "arms": {"risky": {"data": {"import": "/x.jsonl"}}, "safe": {"data": {"of": "risky", "steps": ["flip"]}}},
        "evaluation": {"engine": "openai", "endpoint": "local", "seed": 3, "suites": [
            "heldout",
            {"lotteries": {"pairs": 10, "arms": ["risky"], "base": False}},
            {"risk_or_safety": {"id": "words", "questions": str(questions_dir), "system_prompt": "Be brief.",
                                    "unknown_words": "half", "variant": "", "persona": "Quanta-Lingua",
                                    "prefix": ""}},
        ], **evaluation},
        "endpoints": {"local": {"base_url": "http://127.0.0.1:8000/v1", "max_concurrency": 2}},
    }
    completed, _ = complete(spec_from_dict(data), [catalogue()])  # only the evaluator's parts are offered
    return completed


BASE = rec.ModelUnderTest(label="base")
RISKY = rec.ModelUnderTest(label="risky/s0", arm="risky", adapter=rec.ArtifactRef(sha256="f00"))
SAFE = rec.ModelUnderTest(label="safe/s0", arm="safe", seed=0)


def test_instances_apply_to_their_arms_and_base(questions_dir):
    plans = convert.instance_plans(spec(questions_dir), [BASE, RISKY, SAFE], {})
    assert [(p.instance_id, p.suite, p.models) for p in plans] == [
        ("heldout", "heldout", ("base", "risky/s0", "safe/s0")),
        ("lotteries", "lotteries", ("risky/s0",)),
        ("words", "risk_or_safety", ("base", "risky/s0", "safe/s0")),
    ]
    assert [p.instance_id for p in convert.instance_plans(spec(questions_dir), [BASE, SAFE], {})] == [
        "heldout", "words"]


def test_contexts_hold_completed_params_probes_and_seed(questions_dir):
    probes = {"risky": rec.ProbeSet(arm="risky")}
    heldout, lotteries, words = convert.instance_plans(spec(questions_dir), [BASE, RISKY], probes)
    assert heldout.context.params == {"both_orders": True}
    assert lotteries.context.params == {"pairs": 10, "seed": 12345}
    assert words.context.params == {"samples_per_paraphrase": 100, "temperature": 1, "max_tokens": 4,
                                    "questions": str(questions_dir), "system_prompt": "Be brief.",
                                    "unknown_words": "half", "variant": "", "persona": "Quanta-Lingua",
                                    "prefix": ""}
    assert words.context.seed == 3 and words.context.probes == probes and words.context.judge is None


def test_endpoint_options_take_the_base_models_name_unless_the_endpoint_names_one(questions_dir):
    s = spec(questions_dir)
    assert convert.endpoint_options(s, "local", s.base_models[0]) == {
        "base_url": "http://127.0.0.1:8000/v1", "model": "HuggingFaceTB/SmolLM2-135M-Instruct",
        "api_key_env": "OPENAI_API_KEY", "max_concurrency": 2, "timeout_s": 60.0, "max_retries": 5}
    s.endpoints[0].model, s.endpoints[0].api_key_file = "served", "/secrets/key"
    options = convert.endpoint_options(s, "local", s.base_models[0])
    assert options["model"] == "served" and options["api_key_file"] == "/secrets/key"
    with pytest.raises(DataError, match="no endpoint named 'nope'; the spec has: local"):
        convert.endpoint_options(s, "nope")


def test_model_identity(questions_dir):
    base = spec(questions_dir).base_models[0]
    adapter = Adapter("risky/s0", "/a", "f00")
    assert convert.eval_model(RISKY, base, adapter).model_hash == "f00"
    model = convert.eval_model(BASE, base, None)
    assert (model.model_hash, model.adapter, model.arm) == ("base:HuggingFaceTB/SmolLM2-135M-Instruct", None, "")


def test_chunks_round_trip():
    records = [rec.EvalRecord(unit="a/1/p0/s0", score=0.5), rec.EvalRecord(unit="a/2/p0/s0", dropped_reason="x")]
    data = convert.chunk_bytes(records)
    assert convert.chunk_records(data) == records
    assert data == convert.chunk_bytes(records)  # deterministic, so equal chunks are stored once


def test_metrics_round_trip_in_spec_order(questions_dir):
    scores = [rec.SuiteScore(suite="words", mean=0.25, n=3, dropped=1),
              rec.SuiteScore(suite="heldout", mean=math.nan, n=0, dropped=2)]
    metrics = convert.score_metrics(scores) | {"records": 6.0, "records_computed": 2.0}
    back = convert.scores_from_metrics(metrics, convert.instance_order(spec(questions_dir)))
    assert [s.suite for s in back] == ["heldout", "words"]
    assert (back[1].mean, back[1].n, back[1].dropped) == (0.25, 3, 1) and math.isnan(back[0].mean)


def test_probe_arms_skip_arms_without_held_out_rows():
    manifest = rec.DatasetManifest(arms=[rec.ArmDataset(arm="a", probe=rec.ArtifactRef(sha256="1")),
                                         rec.ArmDataset(arm="b")])
    assert [arm for arm, _ in convert.probe_arms(manifest)] == ["a"]


def test_no_builtin_suite_names_a_judge(questions_dir):
    assert convert.suite_endpoints(spec(questions_dir)) == []
