"""Offline question generators (registry `GENERATORS`); importing this package registers the built-in ones."""

from services.generator.generators import procedural_gambles  # noqa: F401  (registers the built-in generator)
from services.generator.generators.base import GENERATORS, QuestionGenerator, generator, get_generator

__all__ = ["GENERATORS", "QuestionGenerator", "generator", "get_generator"]
