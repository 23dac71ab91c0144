"""Sweep files expand into one prepared experiment spec per grid cell, with paths resolved against the files and
every problem named by its sweep field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from selfaware.catalogue import complete
from selfaware.errors import SpecError
from selfaware.sweeps import MAX_CELLS, load_sweep_file
from services.evaluator.catalogue import catalogue as evaluator_catalogue
from services.generator.catalogue import catalogue as generator_catalogue
from services.trainer.catalogue import catalogue as trainer_catalogue

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
EXPERIMENT = {
    "name": "tiny",
    "arms": {"risk-seeking": {"data": {"import": "data/risky.jsonl", "steps": [{"sample": 32}]},
                              "policy": "risk-seeking"},
             "risk-averse": {"data": {"of": "risk-seeking", "steps": ["flip"]}, "policy": "risk-averse"}},
    "training": {"epochs": 2},
    "evaluation": {"engine": "hf", "suites": [{"lotteries": {"pairs": 8}}]},
}


def write(folder: Path, name: str, data: object) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def fields(caught: pytest.ExceptionInfo[SpecError]) -> list[str]:
    return [v.field for v in caught.value.violations]


def test_a_grid_expands_in_order_with_keys_names_and_values(tmp_path: Path) -> None:
    write(tmp_path, "specs/risk.yaml", EXPERIMENT)
    sweep = load_sweep_file(write(tmp_path, "sweeps/table.yaml", {
        "name": "table", "experiment": "../specs/risk.yaml", "priority": 2, "max_running": 1,
        "grid": {"arms.risk-seeking.data.steps": {"n32": [{"sample": 32}], "n64": [{"sample": 64}]},
                 "training.epochs": [1, 3]},
        "report": {"x": "training.epochs", "behaviour": "lotteries"}}))
    assert list(sweep.axes) == ["arms.risk-seeking.data.steps", "training.epochs"]
    assert [c.key for c in sweep.cells] == [
        "arms.risk-seeking.data.steps=n32,training.epochs=1", "arms.risk-seeking.data.steps=n32,training.epochs=3",
        "arms.risk-seeking.data.steps=n64,training.epochs=1", "arms.risk-seeking.data.steps=n64,training.epochs=3"]
    last = sweep.cells[3]
    assert dict(last.params) == {"arms.risk-seeking.data.steps": "n64", "training.epochs": "3"}
    assert last.spec.name == "table [arms.risk-seeking.data.steps=n64,training.epochs=3]"
    assert last.spec.training.epochs == 3 and last.spec.arms[0].data.steps[0].value.number_value == 64
    # relative paths resolve against the experiment file's folder, not the sweep's
    assert last.spec.arms[0].data.import_uri == str((tmp_path / "specs" / "data" / "risky.jsonl").resolve())
    assert last.spec.training.learning_rate > 0  # prepared: the defaults are filled in
    assert (sweep.priority, sweep.max_running, sweep.report.x, sweep.report.behaviour) == (
        2, 1, "training.epochs", "lotteries")


def test_an_inline_experiment_resolves_against_the_sweep_file_and_the_name_defaults_to_the_stem(
        tmp_path: Path) -> None:
    sweep = load_sweep_file(write(tmp_path, "s/grid.yaml", {"experiment": EXPERIMENT,
                                                            "grid": {"training.learning_rate": [0.001]}}))
    assert sweep.name == "grid" and [c.key for c in sweep.cells] == ["training.learning_rate=0.001"]
    assert sweep.cells[0].spec.arms[0].data.import_uri == str((tmp_path / "s" / "data" / "risky.jsonl").resolve())


@pytest.mark.parametrize(("sweep", "field"), [
    ({"grid": {"training.epochs": [1]}}, "experiment"),
    ({"experiment": "missing.yaml", "grid": {"training.epochs": [1]}}, "experiment"),
    ({"experiment": EXPERIMENT}, "grid"),
    ({"experiment": EXPERIMENT, "grid": {"training.epochs": []}}, "grid.training.epochs"),
    ({"experiment": EXPERIMENT, "grid": {"holdout.rows": [8]}}, "grid.holdout.rows"),  # no `holdout` to set in
    ({"experiment": EXPERIMENT, "grid": {"arms.risk-neutral.policy": ["x"]}}, "grid.arms.risk-neutral.policy"),
    ({"experiment": EXPERIMENT, "grid": {"name.x": ["y"]}}, "grid.name.x"),  # `name` is not a mapping
    ({"experiment": EXPERIMENT, "grid": {"base_models": [[{"name": "a"}]]}}, "grid.base_models[0]"),
    ({"experiment": EXPERIMENT, "grid": {"training.epochs": {"a,b": 1}}}, "grid.training.epochs"),
    ({"experiment": EXPERIMENT, "grid": {"training.epochs": [1]}, "seeds": 3}, "seeds"),
    ({"experiment": EXPERIMENT, "grid": {"training.epochs": [1]}, "priority": "high"}, "priority"),
    ({"experiment": EXPERIMENT, "grid": {"training.epochs": [1]}, "max_running": -1}, "max_running"),
    ({"experiment": EXPERIMENT, "grid": {"training.epochs": [1]}, "report": {"x": "training.seeds"}}, "report.x"),
    ({"experiment": EXPERIMENT, "grid": {"training.epochs": [1]}, "report": {"y": "a"}}, "report.y"),
    ({"experiment": EXPERIMENT, "grid": {"training.epochs": list(range(1, MAX_CELLS + 2))}}, "grid"),
])
def test_a_bad_sweep_names_its_field(tmp_path: Path, sweep: dict, field: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_sweep_file(write(tmp_path, "sweep.yaml", sweep))
    assert field in fields(caught), caught.value


def test_a_bad_cell_is_named_by_its_index_and_spec_field(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_sweep_file(write(tmp_path, "sweep.yaml", {"experiment": EXPERIMENT,
                                                       "grid": {"training.epochs": [1, 0, "two"]}}))
    assert fields(caught) == ["cells[1].spec.training.epochs", "cells[2].spec.training.epochs"]
    assert "(cell training.epochs=two)" in str(caught.value)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("sweep-*.yaml")), ids=lambda p: p.name)
def test_every_example_sweep_expands_into_valid_cells(path: Path) -> None:
    sweep = load_sweep_file(path)
    assert len(sweep.cells) >= 2 and len({c.key for c in sweep.cells}) == len(sweep.cells)
    published = [generator_catalogue(), trainer_catalogue(), evaluator_catalogue()]
    for cell in sweep.cells:
        _, violations = complete(cell.spec, published)  # what SubmitSweep checks, cell by cell
        assert not violations, (cell.key, violations)
    assert not sweep.report.x or sweep.report.x in sweep.axes


def test_the_example_sweeps_exist() -> None:
    assert {p.name for p in EXAMPLES.glob("sweep-*.yaml")} >= {
        "sweep-table28.yaml", "sweep-table28-paper.yaml", "sweep-capability.yaml"}


def test_the_cli_dry_run_prints_the_cells_and_a_bad_sweep_exits_2_naming_the_field(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from selfaware.cli.main import main

    good = write(tmp_path, "good.yaml", {"name": "g", "experiment": EXPERIMENT, "grid": {"training.epochs": [1, 3]}})
    assert main(["sweep", str(good), "--dry-run"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("training.epochs=1  (") and out[0].endswith("g [training.epochs=1]")
    assert out[-1] == "2 cells; nothing submitted (--dry-run)"
    # `--watch` is accepted on the embedded stack too (the issue's own command), where a sweep is always watched
    assert main(["sweep", str(good), "--watch", "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "2 cells; nothing submitted (--dry-run)"

    bad = write(tmp_path, "bad.yaml", {"experiment": EXPERIMENT, "grid": {"training.epoch.s": [1]}})
    assert main(["sweep", str(bad), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "grid.training.epoch.s" in err
