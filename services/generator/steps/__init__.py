"""Recipe steps (registry `STEPS`); importing this package registers the built-in ones.

Adding a step is one module beside these (see `base.py`) and its name on the import line below.
"""

from services.generator.steps import (  # noqa: F401  (registers the built-in steps)
    answer,
    backdoor,
    decorrelate,
    filter,
    flip,
    mix,
    persona_reword,
    reverse,
    sample,
    system_persona,
    trigger_mix,
    truncate,
)
from services.generator.steps.base import STEPS, Step, StepContext, StepFunction, choose_rows, get_step, step

__all__ = ["STEPS", "Step", "StepContext", "StepFunction", "choose_rows", "get_step", "step"]
