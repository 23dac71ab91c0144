"""Apples: max-apples picks the option with more apples, min-apples the one with fewer (spec §3.1; the
authors' `ft_maxapples_AB.jsonl` and, flipped, `ft_minapples_AB.jsonl`, whose repository README swaps the two
descriptions: spec §10)."""

from __future__ import annotations

from services.generator.families.base import Family, family
from services.generator.families.two_option import TwoOptionFamily


@family("apples")
def apples() -> Family:
    return TwoOptionFamily(name="apples", policies=("max-apples", "min-apples"),
                           description="Two-option offers: max-apples picks the option with more apples, "
                                       "min-apples the one with fewer (spec §3.1).")
