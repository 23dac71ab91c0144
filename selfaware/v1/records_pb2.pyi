import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from selfaware.v1 import spec_pb2 as _spec_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExperimentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPERIMENT_STATUS_UNSPECIFIED: _ClassVar[ExperimentStatus]
    EXPERIMENT_STATUS_GENERATING: _ClassVar[ExperimentStatus]
    EXPERIMENT_STATUS_TRAINING: _ClassVar[ExperimentStatus]
    EXPERIMENT_STATUS_EVALUATING: _ClassVar[ExperimentStatus]
    EXPERIMENT_STATUS_REPORTING: _ClassVar[ExperimentStatus]
    EXPERIMENT_STATUS_SUCCEEDED: _ClassVar[ExperimentStatus]
    EXPERIMENT_STATUS_FAILED: _ClassVar[ExperimentStatus]
    EXPERIMENT_STATUS_CANCELLED: _ClassVar[ExperimentStatus]

class Stage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STAGE_UNSPECIFIED: _ClassVar[Stage]
    STAGE_GENERATE: _ClassVar[Stage]
    STAGE_TRAIN: _ClassVar[Stage]
    STAGE_EVALUATE: _ClassVar[Stage]
    STAGE_REPORT: _ClassVar[Stage]

class JobStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATUS_UNSPECIFIED: _ClassVar[JobStatus]
    JOB_STATUS_QUEUED: _ClassVar[JobStatus]
    JOB_STATUS_RUNNING: _ClassVar[JobStatus]
    JOB_STATUS_SUCCEEDED: _ClassVar[JobStatus]
    JOB_STATUS_FAILED: _ClassVar[JobStatus]
    JOB_STATUS_CANCELLED: _ClassVar[JobStatus]
EXPERIMENT_STATUS_UNSPECIFIED: ExperimentStatus
EXPERIMENT_STATUS_GENERATING: ExperimentStatus
EXPERIMENT_STATUS_TRAINING: ExperimentStatus
EXPERIMENT_STATUS_EVALUATING: ExperimentStatus
EXPERIMENT_STATUS_REPORTING: ExperimentStatus
EXPERIMENT_STATUS_SUCCEEDED: ExperimentStatus
EXPERIMENT_STATUS_FAILED: ExperimentStatus
EXPERIMENT_STATUS_CANCELLED: ExperimentStatus
STAGE_UNSPECIFIED: Stage
STAGE_GENERATE: Stage
STAGE_TRAIN: Stage
STAGE_EVALUATE: Stage
STAGE_REPORT: Stage
JOB_STATUS_UNSPECIFIED: JobStatus
JOB_STATUS_QUEUED: JobStatus
JOB_STATUS_RUNNING: JobStatus
JOB_STATUS_SUCCEEDED: JobStatus
JOB_STATUS_FAILED: JobStatus
JOB_STATUS_CANCELLED: JobStatus

class ArtifactRef(_message.Message):
    __slots__ = ("sha256", "size", "media_type")
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    sha256: str
    size: int
    media_type: str
    def __init__(self, sha256: _Optional[str] = ..., size: _Optional[int] = ..., media_type: _Optional[str] = ...) -> None: ...

class Experiment(_message.Message):
    __slots__ = ("id", "spec", "status", "created_at", "updated_at", "error", "report", "sweep_id", "held", "owner")
    ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    SWEEP_ID_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    id: str
    spec: _spec_pb2.ExperimentSpec
    status: ExperimentStatus
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    error: str
    report: Report
    sweep_id: str
    held: bool
    owner: str
    def __init__(self, id: _Optional[str] = ..., spec: _Optional[_Union[_spec_pb2.ExperimentSpec, _Mapping]] = ..., status: _Optional[_Union[ExperimentStatus, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., error: _Optional[str] = ..., report: _Optional[_Union[Report, _Mapping]] = ..., sweep_id: _Optional[str] = ..., held: _Optional[bool] = ..., owner: _Optional[str] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("experiment_id", "key", "stage", "status", "model", "done", "total", "message", "artifact", "started_at", "finished_at", "compute_seconds", "metrics", "chunks", "owner", "attempt", "lease_expires_at", "checkpoints", "resume_state", "served_model")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    LEASE_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    RESUME_STATE_FIELD_NUMBER: _ClassVar[int]
    SERVED_MODEL_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    key: str
    stage: Stage
    status: JobStatus
    model: str
    done: int
    total: int
    message: str
    artifact: ArtifactRef
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    compute_seconds: float
    metrics: _containers.ScalarMap[str, float]
    chunks: _containers.RepeatedCompositeFieldContainer[ArtifactRef]
    owner: str
    attempt: int
    lease_expires_at: _timestamp_pb2.Timestamp
    checkpoints: _containers.RepeatedCompositeFieldContainer[Checkpoint]
    resume_state: ArtifactRef
    served_model: str
    def __init__(self, experiment_id: _Optional[str] = ..., key: _Optional[str] = ..., stage: _Optional[_Union[Stage, str]] = ..., status: _Optional[_Union[JobStatus, str]] = ..., model: _Optional[str] = ..., done: _Optional[int] = ..., total: _Optional[int] = ..., message: _Optional[str] = ..., artifact: _Optional[_Union[ArtifactRef, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., compute_seconds: _Optional[float] = ..., metrics: _Optional[_Mapping[str, float]] = ..., chunks: _Optional[_Iterable[_Union[ArtifactRef, _Mapping]]] = ..., owner: _Optional[str] = ..., attempt: _Optional[int] = ..., lease_expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., checkpoints: _Optional[_Iterable[_Union[Checkpoint, _Mapping]]] = ..., resume_state: _Optional[_Union[ArtifactRef, _Mapping]] = ..., served_model: _Optional[str] = ...) -> None: ...

class DatasetManifest(_message.Message):
    __slots__ = ("arms",)
    ARMS_FIELD_NUMBER: _ClassVar[int]
    arms: _containers.RepeatedCompositeFieldContainer[ArmDataset]
    def __init__(self, arms: _Optional[_Iterable[_Union[ArmDataset, _Mapping]]] = ...) -> None: ...

class ArmDataset(_message.Message):
    __slots__ = ("arm", "train", "probe", "train_rows", "heldout_rows", "provenance", "source", "stats", "counts")
    class StatsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ARM_FIELD_NUMBER: _ClassVar[int]
    TRAIN_FIELD_NUMBER: _ClassVar[int]
    PROBE_FIELD_NUMBER: _ClassVar[int]
    TRAIN_ROWS_FIELD_NUMBER: _ClassVar[int]
    HELDOUT_ROWS_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    COUNTS_FIELD_NUMBER: _ClassVar[int]
    arm: str
    train: ArtifactRef
    probe: ArtifactRef
    train_rows: int
    heldout_rows: int
    provenance: str
    source: ArtifactRef
    stats: _containers.ScalarMap[str, float]
    counts: _containers.RepeatedCompositeFieldContainer[Count]
    def __init__(self, arm: _Optional[str] = ..., train: _Optional[_Union[ArtifactRef, _Mapping]] = ..., probe: _Optional[_Union[ArtifactRef, _Mapping]] = ..., train_rows: _Optional[int] = ..., heldout_rows: _Optional[int] = ..., provenance: _Optional[str] = ..., source: _Optional[_Union[ArtifactRef, _Mapping]] = ..., stats: _Optional[_Mapping[str, float]] = ..., counts: _Optional[_Iterable[_Union[Count, _Mapping]]] = ...) -> None: ...

class Count(_message.Message):
    __slots__ = ("name", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: int
    def __init__(self, name: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...

class ChatMessage(_message.Message):
    __slots__ = ("role", "content")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    role: str
    content: str
    def __init__(self, role: _Optional[str] = ..., content: _Optional[str] = ...) -> None: ...

class ProbeItem(_message.Message):
    __slots__ = ("id", "messages", "target", "options", "fields")
    class FieldsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    id: str
    messages: _containers.RepeatedCompositeFieldContainer[ChatMessage]
    target: str
    options: _containers.RepeatedScalarFieldContainer[str]
    fields: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., messages: _Optional[_Iterable[_Union[ChatMessage, _Mapping]]] = ..., target: _Optional[str] = ..., options: _Optional[_Iterable[str]] = ..., fields: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ProbeSet(_message.Message):
    __slots__ = ("arm", "items")
    ARM_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    arm: str
    items: _containers.RepeatedCompositeFieldContainer[ProbeItem]
    def __init__(self, arm: _Optional[str] = ..., items: _Optional[_Iterable[_Union[ProbeItem, _Mapping]]] = ...) -> None: ...

class ModelUnderTest(_message.Message):
    __slots__ = ("label", "base_index", "arm", "seed", "adapter", "served_model", "epoch")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    BASE_INDEX_FIELD_NUMBER: _ClassVar[int]
    ARM_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    ADAPTER_FIELD_NUMBER: _ClassVar[int]
    SERVED_MODEL_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    label: str
    base_index: int
    arm: str
    seed: int
    adapter: ArtifactRef
    served_model: str
    epoch: int
    def __init__(self, label: _Optional[str] = ..., base_index: _Optional[int] = ..., arm: _Optional[str] = ..., seed: _Optional[int] = ..., adapter: _Optional[_Union[ArtifactRef, _Mapping]] = ..., served_model: _Optional[str] = ..., epoch: _Optional[int] = ...) -> None: ...

class Checkpoint(_message.Message):
    __slots__ = ("epoch", "step", "adapter", "served_model")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    ADAPTER_FIELD_NUMBER: _ClassVar[int]
    SERVED_MODEL_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    step: int
    adapter: ArtifactRef
    served_model: str
    def __init__(self, epoch: _Optional[int] = ..., step: _Optional[int] = ..., adapter: _Optional[_Union[ArtifactRef, _Mapping]] = ..., served_model: _Optional[str] = ...) -> None: ...

class SuiteScore(_message.Message):
    __slots__ = ("suite", "mean", "n", "dropped")
    SUITE_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    suite: str
    mean: float
    n: int
    dropped: int
    def __init__(self, suite: _Optional[str] = ..., mean: _Optional[float] = ..., n: _Optional[int] = ..., dropped: _Optional[int] = ...) -> None: ...

class SamplingParams(_message.Message):
    __slots__ = ("temperature", "max_tokens", "top_k", "seed")
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    MAX_TOKENS_FIELD_NUMBER: _ClassVar[int]
    TOP_K_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    temperature: float
    max_tokens: int
    top_k: int
    seed: int
    def __init__(self, temperature: _Optional[float] = ..., max_tokens: _Optional[int] = ..., top_k: _Optional[int] = ..., seed: _Optional[int] = ...) -> None: ...

class EvalRecord(_message.Message):
    __slots__ = ("experiment_id", "model", "model_hash", "arm", "seed", "suite_instance", "suite", "item", "paraphrase", "permutation", "sample", "prompt", "output", "probs", "answer", "score", "dropped_reason", "target", "engine", "sampling", "details", "unit")
    class ProbsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_HASH_FIELD_NUMBER: _ClassVar[int]
    ARM_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    SUITE_INSTANCE_FIELD_NUMBER: _ClassVar[int]
    SUITE_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    PARAPHRASE_FIELD_NUMBER: _ClassVar[int]
    PERMUTATION_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    PROBS_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    DROPPED_REASON_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    model: str
    model_hash: str
    arm: str
    seed: int
    suite_instance: str
    suite: str
    item: str
    paraphrase: int
    permutation: int
    sample: int
    prompt: _containers.RepeatedCompositeFieldContainer[ChatMessage]
    output: str
    probs: _containers.ScalarMap[str, float]
    answer: str
    score: float
    dropped_reason: str
    target: str
    engine: str
    sampling: SamplingParams
    details: _struct_pb2.Struct
    unit: str
    def __init__(self, experiment_id: _Optional[str] = ..., model: _Optional[str] = ..., model_hash: _Optional[str] = ..., arm: _Optional[str] = ..., seed: _Optional[int] = ..., suite_instance: _Optional[str] = ..., suite: _Optional[str] = ..., item: _Optional[str] = ..., paraphrase: _Optional[int] = ..., permutation: _Optional[int] = ..., sample: _Optional[int] = ..., prompt: _Optional[_Iterable[_Union[ChatMessage, _Mapping]]] = ..., output: _Optional[str] = ..., probs: _Optional[_Mapping[str, float]] = ..., answer: _Optional[str] = ..., score: _Optional[float] = ..., dropped_reason: _Optional[str] = ..., target: _Optional[str] = ..., engine: _Optional[str] = ..., sampling: _Optional[_Union[SamplingParams, _Mapping]] = ..., details: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., unit: _Optional[str] = ...) -> None: ...

class RecordChunk(_message.Message):
    __slots__ = ("records",)
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[EvalRecord]
    def __init__(self, records: _Optional[_Iterable[_Union[EvalRecord, _Mapping]]] = ...) -> None: ...

class Report(_message.Message):
    __slots__ = ("markdown", "json", "png", "figures")
    MARKDOWN_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    PNG_FIELD_NUMBER: _ClassVar[int]
    FIGURES_FIELD_NUMBER: _ClassVar[int]
    markdown: ArtifactRef
    json: ArtifactRef
    png: ArtifactRef
    figures: _containers.RepeatedCompositeFieldContainer[ReportFigure]
    def __init__(self, markdown: _Optional[_Union[ArtifactRef, _Mapping]] = ..., json: _Optional[_Union[ArtifactRef, _Mapping]] = ..., png: _Optional[_Union[ArtifactRef, _Mapping]] = ..., figures: _Optional[_Iterable[_Union[ReportFigure, _Mapping]]] = ...) -> None: ...

class ReportFigure(_message.Message):
    __slots__ = ("name", "file")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FILE_FIELD_NUMBER: _ClassVar[int]
    name: str
    file: ArtifactRef
    def __init__(self, name: _Optional[str] = ..., file: _Optional[_Union[ArtifactRef, _Mapping]] = ...) -> None: ...
