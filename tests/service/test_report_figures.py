"""The report job against the real stores: it reads the evaluator's published catalogue from KV and the dataset
manifest from the artifact store, folds stored record chunks, and stores every figure file under the sha256
the JSON lists."""

from __future__ import annotations

import json
import uuid
from types import SimpleNamespace

from selfaware.jobs import JobRun
from selfaware.plan import eval_job, planned_models
from selfaware.v1 import records_pb2 as rec
from selfaware.v1 import spec_pb2
from services.aggregator.report_job import Reporter
from tests.unit.aggregator.records import make_spec, stored, two_option
from tests.unit.aggregator.self_reports import instance, number_records, word_records

ARMS = {"n8-e1": (8, 1), "n8-e2": (8, 2), "n16-e1": (16, 1), "n16-e2": (16, 2)}


def _spec() -> spec_pb2.ExperimentSpec:
    spec = make_spec([0], [instance("lotteries", "lotteries", {"pairs": 6, "seed": 12345}),
                           instance("risk_or_safety", "risk_or_safety", {"samples_per_paraphrase": 6}),
                           instance("risk_predisposition_scale", "risk_predisposition_scale",
                                    {"samples_per_paraphrase": 4})],
                     arms=tuple(ARMS), compare=[])
    for arm in spec.arms:
        arm.attributes["policy"] = "risk-seeking"
        arm.training.epochs = ARMS[arm.name][1]
    return spec


def _records(level: float) -> list[rec.EvalRecord]:
    records = [two_option(f"pair{i}", {"A": level, "B": 1 - level}, "A", instance="lotteries") for i in range(6)]
    for r in records:
        r.suite = "lotteries"
    records += word_records("risk_or_safety", "risk_or_safety",
                            lambda p, s: "risk" if (p + s) % 10 < level * 10 else "safety", drop_unknown=False)
    records += number_records("risk_predisposition_scale", "risk_predisposition_scale",
                              lambda p, s: str(int(level * 100)) if s else "a lot")
    return records


async def test_the_report_job_stores_every_figure_and_reads_catalogue_and_manifest(platform) -> None:  # type: ignore[no-untyped-def]
    spec = _spec()
    experiment = rec.Experiment(id=f"report-figures-{uuid.uuid4().hex[:8]}", spec=spec)
    manifest = rec.DatasetManifest(arms=[rec.ArmDataset(arm=a, train_rows=rows) for a, (rows, _) in ARMS.items()])
    jobs = [rec.Job(experiment_id=experiment.id, key="dataset", stage=rec.STAGE_GENERATE,
                    artifact=await platform.store.put_bytes(manifest.SerializeToString(), "application/x-protobuf"))]
    for model, level in zip(planned_models(spec), (0.3, 0.6, 0.7, 0.8, 0.9), strict=True):
        job = rec.Job(experiment_id=experiment.id, key=eval_job(model.label), stage=rec.STAGE_EVALUATE,
                      model=model.label)
        for data in stored(_records(level), per_chunk=25):
            job.chunks.append(await platform.store.put_bytes(data, "application/x-protobuf"))
        jobs.append(job)
    assert await platform.state.create_experiment(experiment, jobs)
    runtime = SimpleNamespace(state=platform.state, store=platform.store, bus=platform.bus)
    reporter = Reporter(runtime, experiments=None, max_deliver=3, job_run=JobRun)  # type: ignore[arg-type]

    report = await reporter.build(experiment)

    document = json.loads(await platform.store.get_bytes(report.json))
    instances = {i["id"]: i for i in document["instances"]}
    # From the evaluator's catalogue in KV: kinds, question types and the paper's defaults.
    assert instances["lotteries"]["cluster_unit"] == "items"
    assert instances["risk_or_safety"]["cluster_unit"] == "paraphrases"
    assert instances["risk_predisposition_scale"]["presentation"] == "numeric"
    changed = {(i, c["name"]): (c["value"], c["paper"]) for i, v in instances.items() for c in v["settings_changed"]}
    assert changed[("risk_or_safety", "samples_per_paraphrase")] == (6, 100)
    assert changed[("lotteries", "pairs")][0] == 6
    one_model = next(g for g in instances["risk_or_safety"]["groups"] if g["label"] == "n8-e1")
    assert one_model["ci_unit"] == "paraphrases" and one_model["n_units"] == 60
    scale = next(g for g in instances["risk_predisposition_scale"]["groups"] if g["label"] == "n8-e1")
    assert scale["parse_rate"] == 0.75
    # From the manifest: the grid's rows are the rows each arm trained on.
    (grid,) = document["ablation"]
    assert sorted({(c["train_rows"], c["epochs"]) for c in grid["cells"]}) == [(8, 1), (8, 2), (16, 1), (16, 2)]
    # Every listed figure file is in the store under its sha256.
    stems = {f["file"].rsplit(".", 1)[0] for f in document["figures"]}
    assert stems == {"report", "self-report", "words", "ablation", "faithfulness"}  # 4 models: r is defined
    for figure in document["figures"]:
        data = await platform.store.get_bytes(figure["sha256"])
        assert data.startswith(b"\x89PNG") if figure["file"].endswith(".png") else b"<svg" in data[:400]
    # The Report message refs the same files under the names the JSON (and the Markdown) use.
    assert [(f.name, f.file.sha256) for f in report.figures] == [(f["file"], f["sha256"]) for f in document["figures"]]
    assert report.png.sha256 == next(f.file.sha256 for f in report.figures if f.name == "report.png")
    markdown = (await platform.store.get_bytes(report.markdown)).decode()
    assert "## Training rows × epochs" in markdown and "## Settings against the paper's" in markdown
