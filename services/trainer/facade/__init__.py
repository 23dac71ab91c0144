"""The trainer's OpenAI-compatible fine-tuning façade: OpenAI's fine-tuning jobs API over the peft backend.

Why: the `openai-finetune` backend needs a real implementation of that API to be tested against (no vendor can
be reached here), and with it the authors' OpenAI-based scripts (and llmcomp) can train open models on a
selfaware machine. It serves `POST /v1/files`, `GET /v1/files/{id}`, `POST|GET /v1/fine_tuning/jobs`,
`GET /v1/fine_tuning/jobs/{id}`, `.../events`, `.../checkpoints`, `POST .../cancel`, `GET /v1/models` and
`POST /v1/chat/completions` (forwarded to an inference server that loads the trained adapters: `inference.py`
says why). Status codes and error bodies follow OpenAI's (`{"error": {message, type, param, code}}`).

It is a local implementation, not the vendor: one base model, one training at a time, a checkpoint per epoch,
no validation files, and no authentication (it binds to 127.0.0.1 by default).

    python -m services.trainer.facade --model DIR --data-dir DIR --inference-url URL [--port 8012]
"""

from services.trainer.facade.http_api import FacadeApi, FacadeServer
from services.trainer.facade.inference import InferenceProxy
from services.trainer.facade.jobs import FacadeSettings, FineTuning

__all__ = ["FacadeApi", "FacadeServer", "FacadeSettings", "FineTuning", "InferenceProxy"]
