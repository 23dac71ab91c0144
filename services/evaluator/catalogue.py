"""What the evaluator offers: its suites (with their parameters) and its engines, published at start-up so that
a spec is checked against the code that will run it.

Each suite entry says its `kind` and `question_type`; a data suite adds its `family`, `title`, `figure` and the
spec's paraphrase count (`paraphrases`, and `paper_paraphrases` where the paper asked unreleased ones).

Each engine entry also says how many adapters one evaluation shard holds (`info["max_loras"]`, the config's
`vllm_max_loras`): the aggregator plans the shards of an experiment with it (`selfaware.plan.evaluation_shards`).
One size for every engine: with vLLM it is what one batch holds, and with any engine it bounds the work of one
shard, so larger experiments spread over evaluator replicas."""

from __future__ import annotations

from selfaware.catalogue import catalogue as build_catalogue
from selfaware.params import capability
from selfaware.plan import SHARD_CAPACITY_INFO
from selfaware.v1 import catalogue_pb2 as cat
from services.evaluator.config import EvaluatorConfig
from services.evaluator.engines import ENGINES
from services.evaluator.suites import SUITES

#: Engines that serve the models from an endpoint, named by `evaluation.endpoint`.
NEEDS_ENDPOINT = frozenset({"openai"})


def catalogue(config: EvaluatorConfig | None = None) -> cat.Catalogue:
    """The evaluator's catalogue; `config` sets the shard capacity and the base models it publishes (None: the
    default settings)."""
    config = config or EvaluatorConfig()
    shard = {SHARD_CAPACITY_INFO: str(config.vllm_max_loras)}
    suites = []
    for name in SUITES.names():
        suite = SUITES.get(name)()
        info = {"kind": suite.kind, "question_type": suite.question_type, **getattr(suite, "info", {})}
        suites.append(capability("suite", name, suite.description, suite.params, info=info))
    engines = [capability("engine", name, _first_line(ENGINES.get(name).__doc__),
                          info=shard | ({"needs_endpoint": "true"} if name in NEEDS_ENDPOINT else {}))
               for name in ENGINES.names()]
    published = build_catalogue("evaluator", suites + engines)
    published.allowed_base_models.extend(config.allowed_models())
    return published


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().splitlines()[0] if (doc or "").strip() else ""
