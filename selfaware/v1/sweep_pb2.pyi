import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from selfaware.v1 import records_pb2 as _records_pb2
from selfaware.v1 import spec_pb2 as _spec_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SweepSpec(_message.Message):
    __slots__ = ("name", "axes", "cells", "priority", "max_running", "report")
    NAME_FIELD_NUMBER: _ClassVar[int]
    AXES_FIELD_NUMBER: _ClassVar[int]
    CELLS_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_FIELD_NUMBER: _ClassVar[int]
    MAX_RUNNING_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    name: str
    axes: _containers.RepeatedScalarFieldContainer[str]
    cells: _containers.RepeatedCompositeFieldContainer[SweepCell]
    priority: int
    max_running: int
    report: SweepReportSpec
    def __init__(self, name: _Optional[str] = ..., axes: _Optional[_Iterable[str]] = ..., cells: _Optional[_Iterable[_Union[SweepCell, _Mapping]]] = ..., priority: _Optional[int] = ..., max_running: _Optional[int] = ..., report: _Optional[_Union[SweepReportSpec, _Mapping]] = ...) -> None: ...

class SweepCell(_message.Message):
    __slots__ = ("key", "params", "spec")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    KEY_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    key: str
    params: _containers.ScalarMap[str, str]
    spec: _spec_pb2.ExperimentSpec
    def __init__(self, key: _Optional[str] = ..., params: _Optional[_Mapping[str, str]] = ..., spec: _Optional[_Union[_spec_pb2.ExperimentSpec, _Mapping]] = ...) -> None: ...

class SweepReportSpec(_message.Message):
    __slots__ = ("x", "behaviour", "self_report")
    X_FIELD_NUMBER: _ClassVar[int]
    BEHAVIOUR_FIELD_NUMBER: _ClassVar[int]
    SELF_REPORT_FIELD_NUMBER: _ClassVar[int]
    x: str
    behaviour: str
    self_report: str
    def __init__(self, x: _Optional[str] = ..., behaviour: _Optional[str] = ..., self_report: _Optional[str] = ...) -> None: ...

class Sweep(_message.Message):
    __slots__ = ("id", "spec", "status", "created_at", "updated_at", "cells", "report", "error", "owner")
    ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    CELLS_FIELD_NUMBER: _ClassVar[int]
    REPORT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    id: str
    spec: SweepSpec
    status: _records_pb2.ExperimentStatus
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    cells: _containers.RepeatedCompositeFieldContainer[SweepCellState]
    report: _records_pb2.Report
    error: str
    owner: str
    def __init__(self, id: _Optional[str] = ..., spec: _Optional[_Union[SweepSpec, _Mapping]] = ..., status: _Optional[_Union[_records_pb2.ExperimentStatus, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cells: _Optional[_Iterable[_Union[SweepCellState, _Mapping]]] = ..., report: _Optional[_Union[_records_pb2.Report, _Mapping]] = ..., error: _Optional[str] = ..., owner: _Optional[str] = ...) -> None: ...

class SweepCellState(_message.Message):
    __slots__ = ("key", "experiment_id", "status", "held")
    KEY_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    key: str
    experiment_id: str
    status: _records_pb2.ExperimentStatus
    held: bool
    def __init__(self, key: _Optional[str] = ..., experiment_id: _Optional[str] = ..., status: _Optional[_Union[_records_pb2.ExperimentStatus, str]] = ..., held: _Optional[bool] = ...) -> None: ...
