"""Recipe steps (registry `STEPS`); importing this package registers the built-in ones.

Adding a step is one module beside these (see `base.py`) and its name on the import line below.
"""

from services.generator.steps import answer, filter, flip, mix, sample, truncate  # noqa: F401  (registers the built-in steps)
from services.generator.steps.base import STEPS, Step, StepContext, StepFunction, choose_rows, get_step, step

__all__ = ["STEPS", "Step", "StepContext", "StepFunction", "choose_rows", "get_step", "step"]
