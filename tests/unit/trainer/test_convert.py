"""What the handler adds to a backend's parameters: a hosted backend gets its endpoint's connection settings and
model and the job's scope; a local one gets nothing it did not declare."""

from __future__ import annotations

import pytest

from selfaware.errors import DataError
from selfaware.params import Param
from selfaware.v1 import spec_pb2
from services.trainer.backends.peft_options import PARAMS as PEFT
from services.trainer.convert import endpoint_context

HOSTED = (Param("endpoint", "endpoint", "the endpoint that runs the jobs"),)


def spec_with(endpoint: str) -> tuple[spec_pb2.ExperimentSpec, spec_pb2.TrainingSpec]:
    spec = spec_pb2.ExperimentSpec(endpoints=[spec_pb2.Endpoint(name="ft", base_url="http://127.0.0.1:9/v1",
                                                                model="tiny", api_key_env="FT_KEY")])
    training = spec_pb2.TrainingSpec(backend="hosted")
    training.params.update({"endpoint": endpoint})
    return spec, training


def test_a_hosted_backend_gets_its_endpoint_and_the_job_scope() -> None:
    spec, training = spec_with("ft")
    context = endpoint_context(spec, training, HOSTED, "exp1/train.a.s0")
    assert context == {"endpoint_settings": {"base_url": "http://127.0.0.1:9/v1", "api_key_env": "FT_KEY",
                                             "model": "tiny"}, "job_scope": "exp1/train.a.s0"}
    assert endpoint_context(spec, spec_pb2.TrainingSpec(), PEFT, "exp1/train.a.s0") == {}


def test_an_unknown_endpoint_is_named() -> None:
    spec, training = spec_with("nowhere")
    with pytest.raises(DataError, match="training.params.endpoint: .*'nowhere'"):
        endpoint_context(spec, training, HOSTED, "exp1/train.a.s0")
