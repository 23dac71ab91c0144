from selfaware.v1 import records_pb2 as _records_pb2
from selfaware.v1 import spec_pb2 as _spec_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PreviewDatasetRequest(_message.Message):
    __slots__ = ("spec", "limit")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    spec: _spec_pb2.ExperimentSpec
    limit: int
    def __init__(self, spec: _Optional[_Union[_spec_pb2.ExperimentSpec, _Mapping]] = ..., limit: _Optional[int] = ...) -> None: ...

class PreviewDatasetResponse(_message.Message):
    __slots__ = ("arms",)
    ARMS_FIELD_NUMBER: _ClassVar[int]
    arms: _containers.RepeatedCompositeFieldContainer[ArmPreview]
    def __init__(self, arms: _Optional[_Iterable[_Union[ArmPreview, _Mapping]]] = ...) -> None: ...

class ArmPreview(_message.Message):
    __slots__ = ("arm", "train_rows", "heldout_rows", "provenance", "rows", "stats")
    class StatsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ARM_FIELD_NUMBER: _ClassVar[int]
    TRAIN_ROWS_FIELD_NUMBER: _ClassVar[int]
    HELDOUT_ROWS_FIELD_NUMBER: _ClassVar[int]
    PROVENANCE_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    STATS_FIELD_NUMBER: _ClassVar[int]
    arm: str
    train_rows: int
    heldout_rows: int
    provenance: str
    rows: _containers.RepeatedScalarFieldContainer[str]
    stats: _containers.ScalarMap[str, float]
    def __init__(self, arm: _Optional[str] = ..., train_rows: _Optional[int] = ..., heldout_rows: _Optional[int] = ..., provenance: _Optional[str] = ..., rows: _Optional[_Iterable[str]] = ..., stats: _Optional[_Mapping[str, float]] = ...) -> None: ...

class GetDatasetManifestRequest(_message.Message):
    __slots__ = ("experiment_id",)
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    def __init__(self, experiment_id: _Optional[str] = ...) -> None: ...
