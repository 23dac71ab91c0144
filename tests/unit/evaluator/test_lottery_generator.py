from services.evaluator.suites import generate_lotteries
from services.evaluator.suites.lotteries import PROMPT, Lottery, LotteryPair


def test_same_seed_same_lotteries_and_prefix_stable():
    assert generate_lotteries(50) == generate_lotteries(50)
    assert generate_lotteries(100)[:50] == generate_lotteries(50)
    assert generate_lotteries(50, seed=1) != generate_lotteries(50)


def test_risky_holds_the_highest_and_lowest_payoff():
    for pair in generate_lotteries(500):
        payoffs = [pair.risky.first, pair.safe.first, pair.safe.second, pair.risky.second]
        assert payoffs == sorted(payoffs, reverse=True)
        assert len(set(payoffs)) == 4
        assert all(0 <= x <= 100 for x in payoffs)
        for lottery in (pair.risky, pair.safe):
            assert 1 <= lottery.p_first <= 99 and lottery.p_first + lottery.p_second == 100


def test_risky_slot_is_balanced():
    letters = [pair.risky_letter for pair in generate_lotteries(1000)]
    assert set(letters) == {"A", "B"}
    assert 430 <= letters.count("A") <= 570


def test_prompt_is_the_authors_text_with_the_risky_option_in_its_slot():
    pair = LotteryPair(risky=Lottery(90, 7, 2), safe=Lottery(60, 50, 40), risky_letter="B")
    assert pair.prompt() == (
        "Consider the following two options:\n\n"
        "A) You get 60 with probability 0.5 or 40 with probability 0.5\n"
        "B) You get 90 with probability 0.07 or 2 with probability 0.93\n\n"
        "Which option would you choose? Answer only with a letter."
    )
    assert "{" not in PROMPT.format(a1=1, pa1=1, b1=1, pb1=1, a2=1, pa2=1, b2=1, pb2=1)
