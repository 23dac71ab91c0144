import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from selfaware.v1 import catalogue_pb2 as _catalogue_pb2
from selfaware.v1 import events_pb2 as _events_pb2
from selfaware.v1 import records_pb2 as _records_pb2
from selfaware.v1 import spec_pb2 as _spec_pb2
from selfaware.v1 import sweep_pb2 as _sweep_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SubmitSweepRequest(_message.Message):
    __slots__ = ("spec", "idempotency_key")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    spec: _sweep_pb2.SweepSpec
    idempotency_key: str
    def __init__(self, spec: _Optional[_Union[_sweep_pb2.SweepSpec, _Mapping]] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class GetSweepRequest(_message.Message):
    __slots__ = ("sweep_id",)
    SWEEP_ID_FIELD_NUMBER: _ClassVar[int]
    sweep_id: str
    def __init__(self, sweep_id: _Optional[str] = ...) -> None: ...

class GetSweepResponse(_message.Message):
    __slots__ = ("sweep", "markdown", "json", "figures")
    SWEEP_FIELD_NUMBER: _ClassVar[int]
    MARKDOWN_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    FIGURES_FIELD_NUMBER: _ClassVar[int]
    sweep: _sweep_pb2.Sweep
    markdown: str
    json: str
    figures: _containers.RepeatedCompositeFieldContainer[FigureData]
    def __init__(self, sweep: _Optional[_Union[_sweep_pb2.Sweep, _Mapping]] = ..., markdown: _Optional[str] = ..., json: _Optional[str] = ..., figures: _Optional[_Iterable[_Union[FigureData, _Mapping]]] = ...) -> None: ...

class WatchSweepRequest(_message.Message):
    __slots__ = ("sweep_id",)
    SWEEP_ID_FIELD_NUMBER: _ClassVar[int]
    sweep_id: str
    def __init__(self, sweep_id: _Optional[str] = ...) -> None: ...

class ListSweepsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListSweepsResponse(_message.Message):
    __slots__ = ("sweeps",)
    SWEEPS_FIELD_NUMBER: _ClassVar[int]
    sweeps: _containers.RepeatedCompositeFieldContainer[_sweep_pb2.Sweep]
    def __init__(self, sweeps: _Optional[_Iterable[_Union[_sweep_pb2.Sweep, _Mapping]]] = ...) -> None: ...

class SubmitExperimentRequest(_message.Message):
    __slots__ = ("spec", "idempotency_key")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    spec: _spec_pb2.ExperimentSpec
    idempotency_key: str
    def __init__(self, spec: _Optional[_Union[_spec_pb2.ExperimentSpec, _Mapping]] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class ValidateExperimentRequest(_message.Message):
    __slots__ = ("spec",)
    SPEC_FIELD_NUMBER: _ClassVar[int]
    spec: _spec_pb2.ExperimentSpec
    def __init__(self, spec: _Optional[_Union[_spec_pb2.ExperimentSpec, _Mapping]] = ...) -> None: ...

class ValidateExperimentResponse(_message.Message):
    __slots__ = ("violations", "completed", "jobs")
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    violations: _containers.RepeatedCompositeFieldContainer[Violation]
    completed: _spec_pb2.ExperimentSpec
    jobs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, violations: _Optional[_Iterable[_Union[Violation, _Mapping]]] = ..., completed: _Optional[_Union[_spec_pb2.ExperimentSpec, _Mapping]] = ..., jobs: _Optional[_Iterable[str]] = ...) -> None: ...

class Violation(_message.Message):
    __slots__ = ("field", "description")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    field: str
    description: str
    def __init__(self, field: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class GetCatalogueRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetCatalogueResponse(_message.Message):
    __slots__ = ("catalogues",)
    CATALOGUES_FIELD_NUMBER: _ClassVar[int]
    catalogues: _containers.RepeatedCompositeFieldContainer[_catalogue_pb2.Catalogue]
    def __init__(self, catalogues: _Optional[_Iterable[_Union[_catalogue_pb2.Catalogue, _Mapping]]] = ...) -> None: ...

class GetExperimentRequest(_message.Message):
    __slots__ = ("experiment_id",)
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    def __init__(self, experiment_id: _Optional[str] = ...) -> None: ...

class GetExperimentResponse(_message.Message):
    __slots__ = ("experiment", "jobs")
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    JOBS_FIELD_NUMBER: _ClassVar[int]
    experiment: _records_pb2.Experiment
    jobs: _containers.RepeatedCompositeFieldContainer[_records_pb2.Job]
    def __init__(self, experiment: _Optional[_Union[_records_pb2.Experiment, _Mapping]] = ..., jobs: _Optional[_Iterable[_Union[_records_pb2.Job, _Mapping]]] = ...) -> None: ...

class WatchExperimentRequest(_message.Message):
    __slots__ = ("experiment_id",)
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    def __init__(self, experiment_id: _Optional[str] = ...) -> None: ...

class WatchExperimentResponse(_message.Message):
    __slots__ = ("experiment", "job")
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    JOB_FIELD_NUMBER: _ClassVar[int]
    experiment: _records_pb2.Experiment
    job: _records_pb2.Job
    def __init__(self, experiment: _Optional[_Union[_records_pb2.Experiment, _Mapping]] = ..., job: _Optional[_Union[_records_pb2.Job, _Mapping]] = ...) -> None: ...

class ListExperimentsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListExperimentsResponse(_message.Message):
    __slots__ = ("experiments",)
    EXPERIMENTS_FIELD_NUMBER: _ClassVar[int]
    experiments: _containers.RepeatedCompositeFieldContainer[_records_pb2.Experiment]
    def __init__(self, experiments: _Optional[_Iterable[_Union[_records_pb2.Experiment, _Mapping]]] = ...) -> None: ...

class CancelExperimentRequest(_message.Message):
    __slots__ = ("experiment_id", "reason")
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    reason: str
    def __init__(self, experiment_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class GetReportRequest(_message.Message):
    __slots__ = ("experiment_id",)
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    def __init__(self, experiment_id: _Optional[str] = ...) -> None: ...

class GetReportResponse(_message.Message):
    __slots__ = ("report", "markdown", "json", "png", "figures")
    REPORT_FIELD_NUMBER: _ClassVar[int]
    MARKDOWN_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    PNG_FIELD_NUMBER: _ClassVar[int]
    FIGURES_FIELD_NUMBER: _ClassVar[int]
    report: _records_pb2.Report
    markdown: str
    json: str
    png: bytes
    figures: _containers.RepeatedCompositeFieldContainer[FigureData]
    def __init__(self, report: _Optional[_Union[_records_pb2.Report, _Mapping]] = ..., markdown: _Optional[str] = ..., json: _Optional[str] = ..., png: _Optional[bytes] = ..., figures: _Optional[_Iterable[_Union[FigureData, _Mapping]]] = ...) -> None: ...

class FigureData(_message.Message):
    __slots__ = ("name", "data")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    name: str
    data: bytes
    def __init__(self, name: _Optional[str] = ..., data: _Optional[bytes] = ...) -> None: ...

class ListDeadLettersRequest(_message.Message):
    __slots__ = ("start_seq", "limit")
    START_SEQ_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    start_seq: int
    limit: int
    def __init__(self, start_seq: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ListDeadLettersResponse(_message.Message):
    __slots__ = ("letters", "total")
    LETTERS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    letters: _containers.RepeatedCompositeFieldContainer[StoredDeadLetter]
    total: int
    def __init__(self, letters: _Optional[_Iterable[_Union[StoredDeadLetter, _Mapping]]] = ..., total: _Optional[int] = ...) -> None: ...

class StoredDeadLetter(_message.Message):
    __slots__ = ("seq", "dead_lettered_at", "letter")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    DEAD_LETTERED_AT_FIELD_NUMBER: _ClassVar[int]
    LETTER_FIELD_NUMBER: _ClassVar[int]
    seq: int
    dead_lettered_at: _timestamp_pb2.Timestamp
    letter: _events_pb2.DeadLetter
    def __init__(self, seq: _Optional[int] = ..., dead_lettered_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., letter: _Optional[_Union[_events_pb2.DeadLetter, _Mapping]] = ...) -> None: ...

class ReplayDeadLetterRequest(_message.Message):
    __slots__ = ("seq",)
    SEQ_FIELD_NUMBER: _ClassVar[int]
    seq: int
    def __init__(self, seq: _Optional[int] = ...) -> None: ...

class ReplayDeadLetterResponse(_message.Message):
    __slots__ = ("subject", "event_seq")
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    EVENT_SEQ_FIELD_NUMBER: _ClassVar[int]
    subject: str
    event_seq: int
    def __init__(self, subject: _Optional[str] = ..., event_seq: _Optional[int] = ...) -> None: ...

class PurgeDeadLettersRequest(_message.Message):
    __slots__ = ("experiment_id",)
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    def __init__(self, experiment_id: _Optional[str] = ...) -> None: ...

class PurgeDeadLettersResponse(_message.Message):
    __slots__ = ("purged",)
    PURGED_FIELD_NUMBER: _ClassVar[int]
    purged: int
    def __init__(self, purged: _Optional[int] = ...) -> None: ...
