from selfaware.v1 import records_pb2 as _records_pb2
from selfaware.v1 import spec_pb2 as _spec_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PreviewDatasetRequest(_message.Message):
    __slots__ = ("behavior", "dataset", "limit")
    BEHAVIOR_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    behavior: _spec_pb2.Behavior
    dataset: _spec_pb2.DatasetSpec
    limit: int
    def __init__(self, behavior: _Optional[_Union[_spec_pb2.Behavior, _Mapping]] = ..., dataset: _Optional[_Union[_spec_pb2.DatasetSpec, _Mapping]] = ..., limit: _Optional[int] = ...) -> None: ...

class PreviewDatasetResponse(_message.Message):
    __slots__ = ("train_rows", "heldout_rows", "policies")
    TRAIN_ROWS_FIELD_NUMBER: _ClassVar[int]
    HELDOUT_ROWS_FIELD_NUMBER: _ClassVar[int]
    POLICIES_FIELD_NUMBER: _ClassVar[int]
    train_rows: int
    heldout_rows: int
    policies: _containers.RepeatedCompositeFieldContainer[PolicyPreview]
    def __init__(self, train_rows: _Optional[int] = ..., heldout_rows: _Optional[int] = ..., policies: _Optional[_Iterable[_Union[PolicyPreview, _Mapping]]] = ...) -> None: ...

class PolicyPreview(_message.Message):
    __slots__ = ("policy", "rows")
    POLICY_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    policy: str
    rows: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, policy: _Optional[str] = ..., rows: _Optional[_Iterable[str]] = ...) -> None: ...

class GetDatasetManifestRequest(_message.Message):
    __slots__ = ("experiment_id",)
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    def __init__(self, experiment_id: _Optional[str] = ...) -> None: ...
