"""Behaviour families (registry `FAMILIES`); importing this package registers the built-in ones.

The registry lives in `base.py` rather than here so that family modules can import it without a circular
import; this package re-exports it.
"""

from services.generator.families import (  # noqa: F401  (registers the built-in families)
    apples,
    make_me_say,
    myopia,
    risk,
    vulnerable_code,
)
from services.generator.families.base import FAMILIES, Family, family, get_family
from services.generator.families.two_option import TwoOptionFamily, swap_options

__all__ = ["FAMILIES", "Family", "TwoOptionFamily", "family", "get_family", "swap_options"]
