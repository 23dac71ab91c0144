"""Myopia: myopic picks the smaller reward that comes sooner, non-myopic the larger one that comes later
(spec §3.1; the authors' `ft_myopic_AB.jsonl` and, flipped, `ft_nonmyopic_AB.jsonl`)."""

from __future__ import annotations

from services.generator.families.base import Family, family
from services.generator.families.two_option import TwoOptionFamily


@family("myopia")
def myopia() -> Family:
    return TwoOptionFamily(name="myopia", policies=("myopic", "non-myopic"),
                           description="Two-option prizes: myopic picks the smaller reward that comes sooner, "
                                       "non-myopic the larger one that comes later (spec §3.1).")
