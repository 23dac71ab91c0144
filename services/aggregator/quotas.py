"""Quotas per owner (issue 13): experiments in flight, estimated GPU hours in flight, samples per experiment.

Checked at submit before anything is stored or announced (over one: `QuotaExceeded`, RESOURCE_EXHAUSTED naming
the quota, the owner's usage and the limit), and by sweep admission: a sweep cell that fits the per-experiment
quota but not beside the owner's running work stays held until it fits, so a big sweep waits instead of failing
(`Sweeps.tick`). Quotas bind every owner, admins included: they are about the cluster's capacity, not about
permissions. A limit of 0 is no limit.

The cost of an experiment is an ESTIMATE read off its completed spec, before any data exists:
- training rows of an arm: the rows its recipe declares: the last `sample` step's `rows`, else the generator's
  `rows` (`dialogues` for Make Me Say games), else, for an `import` of a local file, its line count, else (a URL,
  not fetched at submit) 0; `of: <arm>` starts from that arm's rows. Steps that add rows (`mix`, the backdoor
  steps) are not counted, filters that drop rows are not subtracted;
- samples = every arm's training rows + probe samples (`holdout.rows` per evaluated model, checkpoints included);
- GPU hours = sum over the trained models (base model x arm x seed) of rows x epochs divided by the
  `quota_train_samples_per_gpu_hour` setting. Evaluation time is not counted (it is short beside training for
  the paper's suites). The throughput depends on the base model, the sequence lengths and the GPU: set it for
  your cluster; the default is a rough figure for a LoRA on a 7-8B model on one A100/H100.
In-flight usage sums the estimates of the owner's experiments that have not ended and are not held.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf import json_format

from selfaware.errors import QuotaExceeded
from selfaware.plan import planned_models
from selfaware.specs import arm_training, trained_seeds
from selfaware.v1 import spec_pb2

#: Generator parameters that say how many training rows it writes, the first one present wins.
ROW_PARAMS = ("rows", "dialogues")


@dataclass(frozen=True)
class QuotaLimits:
    """The limits, one owner each (0: unlimited)."""

    experiments_in_flight: int = 0
    gpu_hours_in_flight: float = 0.0
    samples_per_experiment: int = 0
    #: The throughput the GPU-hour estimate assumes.
    train_samples_per_gpu_hour: float = 20_000.0


@dataclass(frozen=True)
class Cost:
    """What one experiment is estimated to take."""

    samples: int
    gpu_hours: float


@dataclass
class Usage:
    """An owner's experiments in flight and their estimated GPU hours."""

    experiments: int = 0
    gpu_hours: float = 0.0

    def add(self, cost: Cost) -> None:
        self.experiments += 1
        self.gpu_hours += cost.gpu_hours


#: Lines of an imported file, or None when it is not counted at submit (a URL).
RowCounter = Callable[[str], "int | None"]


def estimate(spec: spec_pb2.ExperimentSpec, limits: QuotaLimits, count_rows: RowCounter) -> Cost:
    """The estimated cost of a completed spec (see the module's docstring for what is counted)."""
    arms = {arm.name: arm for arm in spec.arms}
    rows: dict[str, int] = {}

    def arm_rows(name: str, seen: tuple[str, ...] = ()) -> int:
        if name in seen or name not in arms:  # validation refuses both; the estimate must not loop on them
            return 0
        if name not in rows:
            rows[name] = _recipe_rows(arms[name].data, count_rows, lambda of: arm_rows(of, (*seen, name)))
        return rows[name]

    training = sum(arm_rows(arm.name) for arm in spec.arms)
    models = len(planned_models(spec))  # base models, trained models and evaluated checkpoints
    seen_samples = sum(arm_rows(arm.name) * max(arm_training(spec, arm).epochs, 1) * len(trained_seeds(spec, arm))
                       for arm in spec.arms) * len(spec.base_models)
    hours = seen_samples / limits.train_samples_per_gpu_hour if limits.train_samples_per_gpu_hour else 0.0
    return Cost(samples=training + spec.holdout.rows * models, gpu_hours=hours)


def _recipe_rows(recipe: spec_pb2.Recipe, count_rows: RowCounter, of_rows: Callable[[str], int]) -> int:
    for step in reversed(recipe.steps):
        if step.name == "sample" and "rows" in step.params.fields:
            return int(step.params.fields["rows"].number_value)
    source = recipe.WhichOneof("source")
    if source == "of":
        return of_rows(recipe.of)
    if source == "generate":
        params = json_format.MessageToDict(recipe.generate.params)
        return next((int(params[p]) for p in ROW_PARAMS if isinstance(params.get(p), int | float)), 0)
    if source == "import_uri":
        return count_rows(recipe.import_uri) or 0
    return 0


def problem(owner: str, usage: Usage, cost: Cost, limits: QuotaLimits) -> str | None:
    """Why one more experiment of `cost` takes `owner` over a quota, or None when it fits."""
    shown = owner or "(no owner)"
    if limits.samples_per_experiment and cost.samples > limits.samples_per_experiment:
        return (f"quota samples_per_experiment: the experiment has an estimated {cost.samples} samples (training "
                f"rows + probe samples); the limit for {shown} is {limits.samples_per_experiment}")
    if limits.experiments_in_flight and usage.experiments + 1 > limits.experiments_in_flight:
        return (f"quota experiments_in_flight: {shown} has {usage.experiments} experiments in flight; the limit "
                f"is {limits.experiments_in_flight}")
    if limits.gpu_hours_in_flight and usage.gpu_hours + cost.gpu_hours > limits.gpu_hours_in_flight:
        return (f"quota gpu_hours_in_flight: {shown} has an estimated {usage.gpu_hours:.2f} GPU hours in flight "
                f"and this experiment adds {cost.gpu_hours:.2f}; the limit is {limits.gpu_hours_in_flight:g}")
    return None


def alone_problem(owner: str, cost: Cost, limits: QuotaLimits) -> str | None:
    """Why an experiment of `cost` could never run for `owner`, even with nothing else in flight."""
    return problem(owner, Usage(), cost, limits)


def check(owner: str, usage: Usage, cost: Cost, limits: QuotaLimits) -> None:
    """Raise QuotaExceeded when one more experiment of `cost` takes `owner` over a quota."""
    if why := problem(owner, usage, cost, limits):
        raise QuotaExceeded(why)
