"""The dead-letter stream on a real aggregator (issue 13, item 4): letters are kept `dead_letter_max_age_s` (also on
a stream that existed before with another age), `PurgeDeadLetters` removes one experiment's letters and no other's,
and a letter that the bus cannot have written (its consumer does not consume its subject, or it arrived on another
subject's dead-letter subject), published here with plain nats-py, fails nothing and is logged with the reason."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import nats
import pytest

from selfaware.bus import DLQ_STREAM, EventBus
from selfaware.cli.main import main as cli_main
from selfaware.specs import spec_from_dict
from selfaware.v1 import aggregator_pb2 as pb
from selfaware.v1 import events_pb2 as ev
from selfaware.v1 import records_pb2 as rec
from tests.conftest import NatsProcess
from tests.service.authz import LoneAggregator, start_aggregator
from tests.service.conftest import tiny_spec_dict


@pytest.fixture
def spec(risky_dataset: Path, questions_dir: Path) -> dict[str, Any]:
    return tiny_spec_dict(risky_dataset, questions_dir)


async def publish_letter(nats_url: str, nats_subject: str, **fields: Any) -> int:
    """Publish a DeadLetter as any NATS client could (no bus), on `nats_subject`; its stream sequence."""
    nc = await nats.connect(nats_url)
    try:
        ack = await nc.jetstream().publish(nats_subject, ev.DeadLetter(**fields).SerializeToString())
        return int(ack.seq)
    finally:
        await nc.close()


def submitted_letter(experiment_id: str, **changes: Any) -> dict[str, Any]:
    """The fields of a genuine dead letter of an `experiment.submitted` event."""
    return {"experiment_id": experiment_id, "subject": "selfaware.events.experiment.submitted",
            "consumer": "generator-experiment-submitted", "error": "poison", "deliveries": 4,
            "payload": ev.ExperimentSubmitted(experiment_id=experiment_id).SerializeToString(), **changes}


async def new_experiment(agg: LoneAggregator, spec: dict[str, Any]) -> str:
    return (await agg.call("SubmitExperiment", pb.SubmitExperimentRequest(spec=spec_from_dict(spec)), "owner")).id


async def test_retention_is_the_setting_also_on_an_existing_stream(tmp_path: Path) -> None:
    server = NatsProcess(tmp_path / "nats")
    server.start()
    try:
        first = await EventBus.connect(server.url, name="first")  # the streams as an older release made them
        week = (await first.js.stream_info(DLQ_STREAM)).config.max_age
        assert week == 7 * 24 * 3600
        again = await EventBus.connect(server.url, name="again", dead_letter_max_age_s=2.0)
        config = (await again.js.stream_info(DLQ_STREAM)).config
        assert config.max_age == 2.0 and config.duplicate_window <= 2.0
        seq = await publish_letter(server.url, "selfaware.dlq.experiment.submitted", **submitted_letter("gone"))
        assert (await again.js.get_msg(DLQ_STREAM, seq)).seq == seq
        deadline = asyncio.get_running_loop().time() + 10
        while (await again.js.stream_info(DLQ_STREAM)).state.messages:
            assert asyncio.get_running_loop().time() < deadline, "the letter outlived the stream's max_age"
            await asyncio.sleep(0.25)
        await first.close()
        await again.close()
    finally:
        server.kill()


async def test_an_aggregator_sets_the_retention_it_is_configured_with(tmp_path: Path) -> None:
    async with start_aggregator(tmp_path, dead_letter_max_age_s=3600.0) as agg:
        assert (await agg.bus.js.stream_info(DLQ_STREAM)).config.max_age == 3600.0


async def test_purge_removes_one_experiments_letters(tmp_path: Path, spec: dict[str, Any],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    async with start_aggregator(tmp_path) as agg:
        purged_id, kept_id = await new_experiment(agg, spec), await new_experiment(agg, spec)
        for experiment_id in (purged_id, purged_id, kept_id):
            await publish_letter(agg.nats_url, "selfaware.dlq.experiment.submitted", **submitted_letter(experiment_id))
        reply = await agg.call("PurgeDeadLetters", pb.PurgeDeadLettersRequest(experiment_id=purged_id), "owner")
        assert reply.purged == 2
        left = await agg.call("ListDeadLetters", pb.ListDeadLettersRequest(), "admin")
        assert [s.letter.experiment_id for s in left.letters] == [kept_id] and left.total == 1
        again = await agg.call("PurgeDeadLetters", pb.PurgeDeadLettersRequest(experiment_id=purged_id), "owner")
        assert again.purged == 0
        # the CLI's `dlq purge`, as the admin, over the same TLS and token layer
        token_file = tmp_path / "admin-token"
        token_file.write_text(agg.tokens["admin"])
        argv = ["dlq", "purge", kept_id, "--endpoint", agg.endpoint, "--token-file", str(token_file),
                "--ca-file", str(tmp_path / "tls" / "ca.pem")]
        assert await asyncio.to_thread(cli_main, argv) == 0
        assert f"1 dead letters of {kept_id} purged" in capsys.readouterr().out
        assert (await agg.call("ListDeadLetters", pb.ListDeadLettersRequest(), "admin")).total == 0


async def test_forged_letters_fail_nothing_and_are_logged(tmp_path: Path, spec: dict[str, Any],
                                                          caplog: pytest.LogCaptureFixture) -> None:
    async with start_aggregator(tmp_path) as agg:
        target = await new_experiment(agg, spec)
        forged = [
            # the trainer's consumer does not consume experiment.submitted
            ("selfaware.dlq.experiment.submitted", submitted_letter(target, consumer="trainer-dataset-ready")),
            # no such consumer at all
            ("selfaware.dlq.experiment.submitted", submitted_letter(target, consumer="someone")),
            # a genuine-looking letter about dataset.ready, but on experiment.submitted's dead-letter subject
            ("selfaware.dlq.experiment.submitted", submitted_letter(
                target, subject="selfaware.events.dataset.ready", consumer="aggregator-dataset-ready")),
        ]
        for nats_subject, fields in forged:
            await publish_letter(agg.nats_url, nats_subject, **fields)
        # then a letter the bus could have written: handled after the forged ones (one handler at a time)
        await publish_letter(agg.nats_url, "selfaware.dlq.experiment.submitted",
                             **submitted_letter(target, error="the genuine one"))
        deadline = asyncio.get_running_loop().time() + 20
        while (experiment := await agg.state.get_experiment(target)).status != rec.EXPERIMENT_STATUS_FAILED:
            assert asyncio.get_running_loop().time() < deadline, "the genuine letter did not fail the experiment"
            await asyncio.sleep(0.1)
        assert experiment.error.endswith("(generator-experiment-submitted): the genuine one")
        warnings = [r.getMessage() for r in caplog.records if "dead_letter_ignored_as_forged" in r.getMessage()]
        assert len(warnings) == 3
        assert "'trainer-dataset-ready' consumes selfaware.events.dataset.ready" in warnings[0]
        assert "'someone' is no consumer" in warnings[1]
        assert "arrived on 'selfaware.dlq.experiment.submitted'" in warnings[2]
        listed = await agg.call("ListDeadLetters", pb.ListDeadLettersRequest(), "admin")
        assert listed.total == 4  # the forged letters stay for an operator to look at
