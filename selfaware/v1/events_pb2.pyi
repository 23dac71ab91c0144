from selfaware.v1 import records_pb2 as _records_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExperimentSubmitted(_message.Message):
    __slots__ = ("experiment_id",)
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    def __init__(self, experiment_id: _Optional[str] = ...) -> None: ...

class ExperimentCancelled(_message.Message):
    __slots__ = ("experiment_id", "reason")
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    reason: str
    def __init__(self, experiment_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class DatasetReady(_message.Message):
    __slots__ = ("experiment_id", "manifest")
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    MANIFEST_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    manifest: _records_pb2.DatasetManifest
    def __init__(self, experiment_id: _Optional[str] = ..., manifest: _Optional[_Union[_records_pb2.DatasetManifest, _Mapping]] = ...) -> None: ...

class TrainingRequested(_message.Message):
    __slots__ = ("experiment_id", "model", "train")
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    TRAIN_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    model: _records_pb2.ModelUnderTest
    train: _records_pb2.ArtifactRef
    def __init__(self, experiment_id: _Optional[str] = ..., model: _Optional[_Union[_records_pb2.ModelUnderTest, _Mapping]] = ..., train: _Optional[_Union[_records_pb2.ArtifactRef, _Mapping]] = ...) -> None: ...

class AdapterReady(_message.Message):
    __slots__ = ("experiment_id", "model")
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    model: _records_pb2.ModelUnderTest
    def __init__(self, experiment_id: _Optional[str] = ..., model: _Optional[_Union[_records_pb2.ModelUnderTest, _Mapping]] = ...) -> None: ...

class EvaluationRequested(_message.Message):
    __slots__ = ("experiment_id", "shard_id", "models")
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SHARD_ID_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    shard_id: str
    models: _containers.RepeatedCompositeFieldContainer[_records_pb2.ModelUnderTest]
    def __init__(self, experiment_id: _Optional[str] = ..., shard_id: _Optional[str] = ..., models: _Optional[_Iterable[_Union[_records_pb2.ModelUnderTest, _Mapping]]] = ...) -> None: ...

class EvaluationCompleted(_message.Message):
    __slots__ = ("experiment_id", "model", "chunks", "scores")
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CHUNKS_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    model: _records_pb2.ModelUnderTest
    chunks: _containers.RepeatedCompositeFieldContainer[_records_pb2.ArtifactRef]
    scores: _containers.RepeatedCompositeFieldContainer[_records_pb2.SuiteScore]
    def __init__(self, experiment_id: _Optional[str] = ..., model: _Optional[_Union[_records_pb2.ModelUnderTest, _Mapping]] = ..., chunks: _Optional[_Iterable[_Union[_records_pb2.ArtifactRef, _Mapping]]] = ..., scores: _Optional[_Iterable[_Union[_records_pb2.SuiteScore, _Mapping]]] = ...) -> None: ...

class ReportReady(_message.Message):
    __slots__ = ("experiment_id", "report")
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    report: _records_pb2.Report
    def __init__(self, experiment_id: _Optional[str] = ..., report: _Optional[_Union[_records_pb2.Report, _Mapping]] = ...) -> None: ...

class DeadLetter(_message.Message):
    __slots__ = ("experiment_id", "subject", "consumer", "error", "deliveries", "payload")
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    CONSUMER_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    subject: str
    consumer: str
    error: str
    deliveries: int
    payload: bytes
    def __init__(self, experiment_id: _Optional[str] = ..., subject: _Optional[str] = ..., consumer: _Optional[str] = ..., error: _Optional[str] = ..., deliveries: _Optional[int] = ..., payload: _Optional[bytes] = ...) -> None: ...
