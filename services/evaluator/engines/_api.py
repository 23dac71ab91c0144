"""The model-engine interface the evaluator's suites are written against, and the registry of engines.

Engines are synchronous: the service calls them from one worker thread, so an engine never has to be
thread-safe beyond serialising its own calls. Requests carry chat messages, not text; every engine renders them
with the model's own chat template (see `chat.py`), exactly as training does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from selfaware.registry import Registry

#: OpenAI-style chat messages, e.g. ({"role": "user", "content": "..."},).
Messages = tuple[dict[str, str], ...]


@dataclass(frozen=True)
class Adapter:
    """A PEFT LoRA adapter directory, or a model an OpenAI-compatible endpoint already serves (a hosted fine-tune,
    `served_name`, with no files). Engines cache loaded adapters by (name, path), so a reused name with a new path
    is loaded afresh rather than served stale."""

    name: str
    path: str
    #: The adapter's content hash (the artifact store names adapters by it); "" when unknown.
    sha256: str = ""
    #: A hosted fine-tune's model id at the endpoint (`ModelUnderTest.served_model`); only the `openai` engine
    #: can ask it, and `path` is then "".
    served_name: str = ""


@dataclass(frozen=True)
class ChoiceRequest:
    """Ask for the next-token distribution after the prompt (the paper's `logprob_probs`: T=0, one token)."""

    messages: Messages
    #: None asks the base model.
    adapter: Adapter | None = None


@dataclass(frozen=True)
class SampleRequest:
    """Ask for `n` sampled completions of the prompt."""

    messages: Messages
    adapter: Adapter | None
    n: int
    temperature: float
    max_tokens: int
    #: Makes the n completions reproducible for this request, whatever else shares its batch.
    seed: int


#: Token text -> probability (exp of the logprob), for the top-k tokens only.
TokenProbs = dict[str, float]


@runtime_checkable
class ModelEngine(Protocol):
    """One loaded base model that serves itself and any number of adapters."""

    def next_token_probs(self, requests: Sequence[ChoiceRequest], top_k: int = 5) -> list[TokenProbs]:
        """Top-k next-token probabilities per request, in request order."""
        ...

    def sample(self, requests: Sequence[SampleRequest]) -> list[list[str]]:
        """`request.n` completions per request, in request order."""
        ...

    def close(self) -> None:
        """Release the model (and any worker processes)."""
        ...


#: Engine factories by name: `factory(model_dir, **options) -> ModelEngine`.
ENGINES: Registry[Callable[..., ModelEngine]] = Registry("model engine")
engine = ENGINES.register


def build_engine(name: str, model_dir: str, **options: Any) -> ModelEngine:
    """Load `model_dir` with the engine registered as `name`; unknown names raise `UnknownName`."""
    return ENGINES.get(name)(model_dir, **options)
