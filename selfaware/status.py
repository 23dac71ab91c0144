"""Which experiment and job statuses are final, and the timestamp helper every status write uses.

Kept apart from `state.py` (which talks to NATS) so that domain code can reason about statuses without
reaching the transport.
"""

from __future__ import annotations

from google.protobuf.timestamp_pb2 import Timestamp

from selfaware.v1 import records_pb2 as rec

TERMINAL = {
    rec.EXPERIMENT_STATUS_SUCCEEDED,
    rec.EXPERIMENT_STATUS_FAILED,
    rec.EXPERIMENT_STATUS_CANCELLED,
}
JOB_TERMINAL = {rec.JOB_STATUS_SUCCEEDED, rec.JOB_STATUS_FAILED, rec.JOB_STATUS_CANCELLED}
#: The running experiment statuses, least advanced first (a sweep shows its least advanced cell's; the CLI draws a
#: cell's progress by it).
RUNNING = (rec.EXPERIMENT_STATUS_GENERATING, rec.EXPERIMENT_STATUS_TRAINING, rec.EXPERIMENT_STATUS_EVALUATING,
           rec.EXPERIMENT_STATUS_REPORTING)


def now() -> Timestamp:
    stamp = Timestamp()
    stamp.GetCurrentTime()
    return stamp
