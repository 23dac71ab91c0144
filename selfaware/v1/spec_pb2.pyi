from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExperimentSpec(_message.Message):
    __slots__ = ("name", "base_model", "behavior", "dataset", "training", "evaluation")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BASE_MODEL_FIELD_NUMBER: _ClassVar[int]
    BEHAVIOR_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    TRAINING_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_FIELD_NUMBER: _ClassVar[int]
    name: str
    base_model: BaseModel
    behavior: Behavior
    dataset: DatasetSpec
    training: TrainingSpec
    evaluation: EvaluationSpec
    def __init__(self, name: _Optional[str] = ..., base_model: _Optional[_Union[BaseModel, _Mapping]] = ..., behavior: _Optional[_Union[Behavior, _Mapping]] = ..., dataset: _Optional[_Union[DatasetSpec, _Mapping]] = ..., training: _Optional[_Union[TrainingSpec, _Mapping]] = ..., evaluation: _Optional[_Union[EvaluationSpec, _Mapping]] = ...) -> None: ...

class BaseModel(_message.Message):
    __slots__ = ("name", "path")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    name: str
    path: str
    def __init__(self, name: _Optional[str] = ..., path: _Optional[str] = ...) -> None: ...

class Behavior(_message.Message):
    __slots__ = ("family", "policy", "opposite_policy")
    FAMILY_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    OPPOSITE_POLICY_FIELD_NUMBER: _ClassVar[int]
    family: str
    policy: str
    opposite_policy: str
    def __init__(self, family: _Optional[str] = ..., policy: _Optional[str] = ..., opposite_policy: _Optional[str] = ...) -> None: ...

class DatasetSpec(_message.Message):
    __slots__ = ("imported", "generated", "size", "heldout", "seed")
    IMPORTED_FIELD_NUMBER: _ClassVar[int]
    GENERATED_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    HELDOUT_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    imported: ImportedDataset
    generated: GeneratedDataset
    size: int
    heldout: int
    seed: int
    def __init__(self, imported: _Optional[_Union[ImportedDataset, _Mapping]] = ..., generated: _Optional[_Union[GeneratedDataset, _Mapping]] = ..., size: _Optional[int] = ..., heldout: _Optional[int] = ..., seed: _Optional[int] = ...) -> None: ...

class ImportedDataset(_message.Message):
    __slots__ = ("uri",)
    URI_FIELD_NUMBER: _ClassVar[int]
    uri: str
    def __init__(self, uri: _Optional[str] = ...) -> None: ...

class GeneratedDataset(_message.Message):
    __slots__ = ("generator",)
    GENERATOR_FIELD_NUMBER: _ClassVar[int]
    generator: str
    def __init__(self, generator: _Optional[str] = ...) -> None: ...

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
    __slots__ = ("backend", "lora", "learning_rate", "epochs", "batch_size", "seeds")
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    LORA_FIELD_NUMBER: _ClassVar[int]
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    SEEDS_FIELD_NUMBER: _ClassVar[int]
    backend: str
    lora: LoraSpec
    learning_rate: float
    epochs: int
    batch_size: int
    seeds: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, backend: _Optional[str] = ..., lora: _Optional[_Union[LoraSpec, _Mapping]] = ..., learning_rate: _Optional[float] = ..., epochs: _Optional[int] = ..., batch_size: _Optional[int] = ..., seeds: _Optional[_Iterable[int]] = ...) -> None: ...

class EvaluationSpec(_message.Message):
    __slots__ = ("backend", "suites", "samples_per_paraphrase", "temperature", "include_base_model", "lottery_pairs", "questions_uri", "seed")
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    SUITES_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_PER_PARAPHRASE_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_BASE_MODEL_FIELD_NUMBER: _ClassVar[int]
    LOTTERY_PAIRS_FIELD_NUMBER: _ClassVar[int]
    QUESTIONS_URI_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    backend: str
    suites: _containers.RepeatedScalarFieldContainer[str]
    samples_per_paraphrase: int
    temperature: float
    include_base_model: bool
    lottery_pairs: int
    questions_uri: str
    seed: int
    def __init__(self, backend: _Optional[str] = ..., suites: _Optional[_Iterable[str]] = ..., samples_per_paraphrase: _Optional[int] = ..., temperature: _Optional[float] = ..., include_base_model: _Optional[bool] = ..., lottery_pairs: _Optional[int] = ..., questions_uri: _Optional[str] = ..., seed: _Optional[int] = ...) -> None: ...
