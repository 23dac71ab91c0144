"""Behaviour families (registry `FAMILIES`); importing this package registers the built-in ones.

The registry lives in `base.py` rather than here so that family modules can import it without a circular
import; this package re-exports it.
"""

from services.generator.families import apples, make_me_say, myopia, risk  # noqa: F401  (registers the built-in families)
from services.generator.families.base import FAMILIES, Family, family, get_family
from services.generator.families.two_option import TwoOptionFamily, swap_options

__all__ = ["FAMILIES", "Family", "TwoOptionFamily", "family", "get_family", "swap_options"]
