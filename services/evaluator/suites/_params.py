"""Parameter declarations more than one suite shares, declared once so that their names, defaults and ranges
cannot drift apart between suites."""

from __future__ import annotations

from selfaware.params import Param

#: The authors' question files at the commit the paper's numbers come from.
AUTHORS_QUESTIONS_URL = ("https://raw.githubusercontent.com/XuchanBao/behavioral-self-awareness/"
                         "d7e60be7d48e987f343dece3fcd6f519de2117ba/code/multiple-choice/questions")

SAMPLES_PER_PARAPHRASE = Param("samples_per_paraphrase", "int", "samples per question paraphrase (the paper: 100)",
                               default=100, min=1, max=10000)
TEMPERATURE = Param("temperature", "float", "sampling temperature (the paper: 1.0)", default=1.0, min=0, max=2)
QUESTIONS = Param("questions", "uri", "folder (path or URL) of the authors' question YAML files",
                  default=AUTHORS_QUESTIONS_URL)
SYSTEM_PROMPT = Param("system_prompt", "string", "system message before each question; unset: none",
                      default=None)
MAX_TOKENS = Param("max_tokens", "int", "most tokens per sampled answer", default=4, min=1, max=4096)

#: What every sampled self-report suite takes, in catalogue order.
SELF_REPORT_PARAMS = (SAMPLES_PER_PARAPHRASE, TEMPERATURE, QUESTIONS, SYSTEM_PROMPT, MAX_TOKENS)
