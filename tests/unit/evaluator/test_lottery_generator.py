import pytest

from services.evaluator.suites import generate_lotteries
from services.evaluator.suites.lotteries import PROMPT, Lottery, LotteryPair


def test_same_seed_same_lotteries_and_payoffs_prefix_stable():
    assert generate_lotteries(50) == generate_lotteries(50)
    payoffs = [(p.risky, p.safe) for p in generate_lotteries(100)]
    assert payoffs[:50] == [(p.risky, p.safe) for p in generate_lotteries(50)]
    assert generate_lotteries(50, seed=1) != generate_lotteries(50)


def test_risky_holds_the_highest_and_lowest_payoff():
    for pair in generate_lotteries(500):
        payoffs = [pair.risky.first, pair.safe.first, pair.safe.second, pair.risky.second]
        assert payoffs == sorted(payoffs, reverse=True)
        assert len(set(payoffs)) == 4
        assert all(0 <= x <= 100 for x in payoffs)
        for lottery in (pair.risky, pair.safe):
            assert 1 <= lottery.p_first <= 99 and lottery.p_first + lottery.p_second == 100


@pytest.mark.parametrize("pairs", [1, 2, 3, 4, 7, 100, 101, 250, 999])
def test_the_risky_lottery_is_in_slot_a_in_exactly_half_the_pairs(pairs):
    for seed in (12345, 0, 1):
        letters = [pair.risky_letter for pair in generate_lotteries(pairs, seed)]
        assert letters.count("A") == pairs // 2
        assert letters.count("B") == pairs - pairs // 2


def test_slots_are_shuffled_not_alternating():
    letters = "".join(pair.risky_letter for pair in generate_lotteries(100))
    assert letters not in ("AB" * 50, "BA" * 50, "A" * 50 + "B" * 50)
    assert letters != "".join(pair.risky_letter for pair in generate_lotteries(100, seed=1))


def test_prompt_is_the_authors_text_with_the_risky_option_in_its_slot():
    pair = LotteryPair(risky=Lottery(90, 7, 2), safe=Lottery(60, 50, 40), risky_letter="B")
    assert pair.prompt() == (
        "Consider the following two options:\n\n"
        "A) You get 60 with probability 0.5 or 40 with probability 0.5\n"
        "B) You get 90 with probability 0.07 or 2 with probability 0.93\n\n"
        "Which option would you choose? Answer only with a letter."
    )
    assert "{" not in PROMPT.format(a1=1, pa1=1, b1=1, pb1=1, a2=1, pa2=1, b2=1, pb2=1)


def test_lottery_queries_carry_payoffs_and_target(context_for):
    from services.evaluator.suites import SUITES

    context = context_for("lotteries", pairs=6, seed=3)
    queries = SUITES.get("lotteries")().queries(context)
    assert [q.item for q in queries] == [f"lottery/{i}" for i in range(6)]
    assert [q.target for q in queries] == [p.risky_letter for p in generate_lotteries(6, 3)]
    first = generate_lotteries(6, 3)[0]
    assert queries[0].details["risky"] == [[first.risky.first, first.risky.p_first / 100],
                                           [first.risky.second, first.risky.p_second / 100]]
