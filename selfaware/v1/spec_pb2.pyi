from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExperimentSpec(_message.Message):
    __slots__ = ("name", "base_models", "arms", "holdout", "training", "evaluation", "endpoints", "compare")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BASE_MODELS_FIELD_NUMBER: _ClassVar[int]
    ARMS_FIELD_NUMBER: _ClassVar[int]
    HOLDOUT_FIELD_NUMBER: _ClassVar[int]
    TRAINING_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_FIELD_NUMBER: _ClassVar[int]
    ENDPOINTS_FIELD_NUMBER: _ClassVar[int]
    COMPARE_FIELD_NUMBER: _ClassVar[int]
    name: str
    base_models: _containers.RepeatedCompositeFieldContainer[BaseModel]
    arms: _containers.RepeatedCompositeFieldContainer[Arm]
    holdout: HoldoutSpec
    training: TrainingSpec
    evaluation: EvaluationSpec
    endpoints: _containers.RepeatedCompositeFieldContainer[Endpoint]
    compare: _containers.RepeatedCompositeFieldContainer[Comparison]
    def __init__(self, name: _Optional[str] = ..., base_models: _Optional[_Iterable[_Union[BaseModel, _Mapping]]] = ..., arms: _Optional[_Iterable[_Union[Arm, _Mapping]]] = ..., holdout: _Optional[_Union[HoldoutSpec, _Mapping]] = ..., training: _Optional[_Union[TrainingSpec, _Mapping]] = ..., evaluation: _Optional[_Union[EvaluationSpec, _Mapping]] = ..., endpoints: _Optional[_Iterable[_Union[Endpoint, _Mapping]]] = ..., compare: _Optional[_Iterable[_Union[Comparison, _Mapping]]] = ...) -> None: ...

class BaseModel(_message.Message):
    __slots__ = ("name", "path", "key")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    name: str
    path: str
    key: str
    def __init__(self, name: _Optional[str] = ..., path: _Optional[str] = ..., key: _Optional[str] = ...) -> None: ...

class Arm(_message.Message):
    __slots__ = ("name", "data", "training", "attributes")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    TRAINING_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    name: str
    data: Recipe
    training: TrainingSpec
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., data: _Optional[_Union[Recipe, _Mapping]] = ..., training: _Optional[_Union[TrainingSpec, _Mapping]] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class Recipe(_message.Message):
    __slots__ = ("import_uri", "generate", "of", "steps")
    IMPORT_URI_FIELD_NUMBER: _ClassVar[int]
    GENERATE_FIELD_NUMBER: _ClassVar[int]
    OF_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    import_uri: str
    generate: Generate
    of: str
    steps: _containers.RepeatedCompositeFieldContainer[RecipeStep]
    def __init__(self, import_uri: _Optional[str] = ..., generate: _Optional[_Union[Generate, _Mapping]] = ..., of: _Optional[str] = ..., steps: _Optional[_Iterable[_Union[RecipeStep, _Mapping]]] = ...) -> None: ...

class Generate(_message.Message):
    __slots__ = ("generator", "params")
    GENERATOR_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    generator: str
    params: _struct_pb2.Struct
    def __init__(self, generator: _Optional[str] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class RecipeStep(_message.Message):
    __slots__ = ("name", "params", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    params: _struct_pb2.Struct
    value: _struct_pb2.Value
    def __init__(self, name: _Optional[str] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., value: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ...) -> None: ...

class HoldoutSpec(_message.Message):
    __slots__ = ("rows", "seed")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    rows: int
    seed: int
    def __init__(self, rows: _Optional[int] = ..., seed: _Optional[int] = ...) -> None: ...

class LoraSpec(_message.Message):
    __slots__ = ("rank", "alpha", "dropout", "target_modules")
    RANK_FIELD_NUMBER: _ClassVar[int]
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    DROPOUT_FIELD_NUMBER: _ClassVar[int]
    TARGET_MODULES_FIELD_NUMBER: _ClassVar[int]
    rank: int
    alpha: float
    dropout: float
    target_modules: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, rank: _Optional[int] = ..., alpha: _Optional[float] = ..., dropout: _Optional[float] = ..., target_modules: _Optional[_Iterable[str]] = ...) -> None: ...

class TrainingSpec(_message.Message):
    __slots__ = ("backend", "lora", "learning_rate", "epochs", "batch_size", "seeds", "params")
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    LORA_FIELD_NUMBER: _ClassVar[int]
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    SEEDS_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    backend: str
    lora: LoraSpec
    learning_rate: float
    epochs: int
    batch_size: int
    seeds: _containers.RepeatedScalarFieldContainer[int]
    params: _struct_pb2.Struct
    def __init__(self, backend: _Optional[str] = ..., lora: _Optional[_Union[LoraSpec, _Mapping]] = ..., learning_rate: _Optional[float] = ..., epochs: _Optional[int] = ..., batch_size: _Optional[int] = ..., seeds: _Optional[_Iterable[int]] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class EvaluationSpec(_message.Message):
    __slots__ = ("engine", "endpoint", "include_base_model", "seed", "suites", "checkpoints")
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_BASE_MODEL_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    SUITES_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    engine: str
    endpoint: str
    include_base_model: bool
    seed: int
    suites: _containers.RepeatedCompositeFieldContainer[SuiteInstance]
    checkpoints: bool
    def __init__(self, engine: _Optional[str] = ..., endpoint: _Optional[str] = ..., include_base_model: _Optional[bool] = ..., seed: _Optional[int] = ..., suites: _Optional[_Iterable[_Union[SuiteInstance, _Mapping]]] = ..., checkpoints: _Optional[bool] = ...) -> None: ...

class SuiteInstance(_message.Message):
    __slots__ = ("id", "suite", "params", "arms", "base")
    ID_FIELD_NUMBER: _ClassVar[int]
    SUITE_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    ARMS_FIELD_NUMBER: _ClassVar[int]
    BASE_FIELD_NUMBER: _ClassVar[int]
    id: str
    suite: str
    params: _struct_pb2.Struct
    arms: _containers.RepeatedScalarFieldContainer[str]
    base: bool
    def __init__(self, id: _Optional[str] = ..., suite: _Optional[str] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., arms: _Optional[_Iterable[str]] = ..., base: _Optional[bool] = ...) -> None: ...

class Endpoint(_message.Message):
    __slots__ = ("name", "base_url", "model", "api_key_env", "api_key_file", "max_concurrency", "timeout_s", "max_retries")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BASE_URL_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    API_KEY_ENV_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FILE_FIELD_NUMBER: _ClassVar[int]
    MAX_CONCURRENCY_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    MAX_RETRIES_FIELD_NUMBER: _ClassVar[int]
    name: str
    base_url: str
    model: str
    api_key_env: str
    api_key_file: str
    max_concurrency: int
    timeout_s: float
    max_retries: int
    def __init__(self, name: _Optional[str] = ..., base_url: _Optional[str] = ..., model: _Optional[str] = ..., api_key_env: _Optional[str] = ..., api_key_file: _Optional[str] = ..., max_concurrency: _Optional[int] = ..., timeout_s: _Optional[float] = ..., max_retries: _Optional[int] = ...) -> None: ...

class Comparison(_message.Message):
    __slots__ = ("arms",)
    ARMS_FIELD_NUMBER: _ClassVar[int]
    arms: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, arms: _Optional[_Iterable[str]] = ...) -> None: ...
