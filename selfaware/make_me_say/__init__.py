"""The Make Me Say game (spec §4), shared by the generator (it plays games to build training data) and the
evaluator (the fine-tuned model plays them as the behaviour probe, and its suites score codewords): the codeword
rule, the paper's prompts, and the game itself. Pure domain code: no model, no network; players are callables.
"""
