"""Cancel stops training within one step: after `CancelExperiment`, the trainer's step count stops rising (the
steps it logs as it finishes them), not only the job's state."""

from __future__ import annotations

import asyncio
import random

from structlog.testing import capture_logs

from selfaware.specs import spec_from_dict
from selfaware.v1 import records_pb2 as rec

JOB = "train.risk-seeking.s{seed}"


async def test_cancel_stops_training_within_one_step(platform, make_spec) -> None:  # type: ignore[no-untyped-def]
    seed = random.randrange(1000, 10**6)  # a training no earlier run made, so the memo cannot answer it
    # batch 2: short steps, so that "several more steps, had it gone on" takes seconds, not minutes
    spec_dict = make_spec(training__epochs=50, training__batch_size=2, training__seeds=[seed],
                          evaluation__include_base_model=False)
    del spec_dict["arms"]["risk-averse"], spec_dict["compare"]  # one adapter: every step logged is this job's
    job_key = JOB.format(seed=seed)
    with capture_logs() as logs:
        async with platform.client() as client:
            experiment = await client.submit(spec_from_dict(spec_dict))

            def steps() -> list[int]:
                return [e["step"] for e in logs if e["event"] == "training_step"]

            async def trained(n: int) -> None:
                while len(steps()) < n:
                    await asyncio.sleep(0.05)

            await asyncio.wait_for(trained(2), 300)
            started = asyncio.get_running_loop().time()
            await trained(3)
            step_s = asyncio.get_running_loop().time() - started  # one step's duration, measured
            cancelled = await client.cancel(experiment.id, "test cancels")
            at_cancel = len(steps())
            assert cancelled.status == rec.EXPERIMENT_STATUS_CANCELLED
            await asyncio.sleep(max(4 * step_s, 5.0))  # long enough for several more steps, had it gone on
            final = {j.key: j for j in (await client.get(experiment.id)).jobs}
    done = steps()
    assert done == list(range(1, len(done) + 1))
    assert len(done) - at_cancel <= 1, f"{len(done) - at_cancel} steps ran after the cancel (step {step_s:.1f} s)"
    assert final[job_key].status == rec.JOB_STATUS_CANCELLED
    assert final[job_key].done <= at_cancel + 1
    assert [e for e in logs if e["event"] == "job_cancelled"], "the training thread stopped and the job closed"
