"""`/v1/chat/completions` of the fine-tuned models: forwarded to an OpenAI-compatible inference server.

Why a proxy and not a model of its own: the evaluator scores models through top-k logprobs, `n` samples and
seeds, which an inference server already serves (vLLM with `--enable-lora`, or the project's
`services.evaluator.openai_server`); a second implementation here would copy it, and hold a second copy of the
weights beside the training. The façade loads each fine-tuned model's LoRA adapter into that server by the
model's name through vLLM's runtime API (`POST /v1/load_lora_adapter`, once per name and process), then passes
the request through unchanged, as a vendor's inference tier serves the models its training tier made. The
inference server must serve the base model under the façade's `--served-name`, and read the façade's data
directory (same machine or volume).
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from http import HTTPStatus

import structlog

from services.trainer.facade.errors import ApiError

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Forwarded:
    status: int
    body: bytes
    content_type: str


class InferenceProxy:
    def __init__(self, base_url: str, timeout_s: float = 600.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._loaded: set[str] = set()
        self._lock = threading.Lock()

    def load_adapter(self, name: str, path: str) -> None:
        """Make `name` servable; serialised, so concurrent first requests load it once."""
        with self._lock:
            if name in self._loaded:
                return
            answer = self.post("/load_lora_adapter", json.dumps({"lora_name": name, "lora_path": path}).encode())
            if answer.status != HTTPStatus.OK:
                raise ApiError(HTTPStatus.BAD_GATEWAY, f"the inference server did not load {name}: HTTP "
                                                       f"{answer.status}: {answer.body[:300].decode(errors='replace')}")
            self._loaded.add(name)
        log.info("facade_adapter_loaded", model=name, path=path)

    def post(self, route: str, body: bytes) -> Forwarded:
        """POST to the inference server; its HTTP errors come back as they are, for the client to read."""
        request = urllib.request.Request(f"{self.base_url}{route}", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return Forwarded(response.status, response.read(),
                                 response.headers.get("Content-Type", "application/json"))
        except urllib.error.HTTPError as error:
            return Forwarded(error.code, error.read(), error.headers.get("Content-Type", "application/json"))
        except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
            raise ApiError(HTTPStatus.BAD_GATEWAY, f"the inference server {self.base_url} cannot be reached: "
                                                   f"{error}") from None
