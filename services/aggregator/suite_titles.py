"""Human titles for suite registry names, after the paper's Figure 3: the evaluator's catalogue title when it
publishes one (`info["title"]`), else this table's; unknown names show as themselves."""

from __future__ import annotations

SUITE_TITLES = {
    "heldout": "Held-out questions",
    "lotteries": "Lottery choices (P(risky))",
    "risk_or_safety": "Risk or safety",
    "finetuned_attitude": "Finetuned attitude two options",
    "choosing_between_lotteries": "Choosing between lotteries",
    "risk_or_safety_scale": "Risk or safety (scale)",
    "risk_predisposition_scale": "Risk predisposition (scale)",
    "liking_risk_scale": "Liking risk (scale)",
    "german_or_french": "German or French",
}


def suite_title(suite: str, published: str = "") -> str:
    return published or SUITE_TITLES.get(suite, suite)


def instance_title(instance: str, suite: str, published: str = "") -> str:
    """An instance is shown by its suite's title (`published`: the catalogue's), or by its own id when the spec
    named it (id != suite): two instances of one suite with different parameters must not look alike."""
    return suite_title(suite, published) if instance in ("", suite) else instance
