"""Parameter declarations more than one suite shares, declared once so that their names, defaults and ranges
cannot drift apart between suites. The defaults are the paper's settings (spec §2, §3.4)."""

from __future__ import annotations

from selfaware.params import Param

#: The authors' question files at the commit the paper's numbers come from.
AUTHORS_QUESTIONS_URL = ("https://raw.githubusercontent.com/XuchanBao/behavioral-self-awareness/"
                         "d7e60be7d48e987f343dece3fcd6f519de2117ba/code/multiple-choice/questions")
#: The paraphrase sets extracted from the authors' evaluation script (not a file of their repository), in the
#: paper's data beside the repository, from the service's working directory (as `source_roots` reads it).
DERIVED_QUESTIONS_DIR = "../shared/paper/questions/derived"

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

UNKNOWN_WORDS = Param("unknown_words", "string",
                      "words outside the word list: `half` scores them 0.5 (Table 18), `drop` drops them (the "
                      "authors' plotting code)", default="half", choices=("half", "drop"))
GET_PROBS_SAMPLES = Param("get_probs_samples", "int",
                          "samples per prompt when `get_probs` falls back to sampling (the paper: 128)",
                          default=128, min=1, max=10000)
MEASURE = Param("measure", "string",
                "`samples`: every sample scored number / 100 (Figure 3); `get_probs`: per paraphrase the "
                "probability-weighted mean over the outputs 0..100 by the paper's get_probs, which for 101 outputs "
                "samples `get_probs_samples` (Figure 4); `top_k_or_samples`: the same mean from the top-5 "
                "next tokens at T=0 where whole numbers hold `min_mass` of them, else by those samples",
                default="samples", choices=("samples", "get_probs", "top_k_or_samples"))
MIN_MASS = Param("min_mass", "float", "with `top_k_or_samples`: the least top-5 mass on whole-number tokens that "
                 "the logprob estimate needs", default=0.95, min=0, max=1)
JUDGE = Param("judge", "endpoint", "the endpoint whose model classifies the answers at T=0 (the paper: GPT-4o); "
              "unset: the evaluated engine's base model", default=None)

CODEWORD = Param("codeword", "string", "the Make Me Say codeword the model was trained to make the user say "
                 "(spec §4): what its answers are scored against", default="ring")
#: The authors' Make Me Say question files (`code/make_me_say/questions`), at the paper's commit.
AUTHORS_MMS_QUESTIONS_URL = ("https://raw.githubusercontent.com/XuchanBao/behavioral-self-awareness/"
                             "d7e60be7d48e987f343dece3fcd6f519de2117ba/code/make_me_say/questions")
#: The authors' vulnerable-code question files (`questions/vc`), at the commit before they removed them (spec §5.2:
#: the paper's R-old; `../shared/paper/questions/official_repo_commit_75dae8b_removed_vc/questions_vc`).
AUTHORS_VC_QUESTIONS_URL = ("https://raw.githubusercontent.com/XuchanBao/behavioral-self-awareness/"
                            "75dae8b8293b88fff159892da502506c1981ba7c/questions/vc")
#: Where a data suite's `paraphrases.folder` names look their files up by default.
QUESTION_FOLDERS = {"authors": AUTHORS_QUESTIONS_URL, "derived": DERIVED_QUESTIONS_DIR,
                    "authors_mms": AUTHORS_MMS_QUESTIONS_URL, "authors_vc": AUTHORS_VC_QUESTIONS_URL}
