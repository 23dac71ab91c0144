from selfaware.v1 import events_pb2 as _events_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListSuitesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListSuitesResponse(_message.Message):
    __slots__ = ("suites", "backends")
    SUITES_FIELD_NUMBER: _ClassVar[int]
    BACKENDS_FIELD_NUMBER: _ClassVar[int]
    suites: _containers.RepeatedCompositeFieldContainer[SuiteInfo]
    backends: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, suites: _Optional[_Iterable[_Union[SuiteInfo, _Mapping]]] = ..., backends: _Optional[_Iterable[str]] = ...) -> None: ...

class SuiteInfo(_message.Message):
    __slots__ = ("name", "description", "kind")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    kind: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., kind: _Optional[str] = ...) -> None: ...

class ListEvaluationsRequest(_message.Message):
    __slots__ = ("experiment_id",)
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    def __init__(self, experiment_id: _Optional[str] = ...) -> None: ...

class ListEvaluationsResponse(_message.Message):
    __slots__ = ("evaluations",)
    EVALUATIONS_FIELD_NUMBER: _ClassVar[int]
    evaluations: _containers.RepeatedCompositeFieldContainer[_events_pb2.EvaluationCompleted]
    def __init__(self, evaluations: _Optional[_Iterable[_Union[_events_pb2.EvaluationCompleted, _Mapping]]] = ...) -> None: ...
