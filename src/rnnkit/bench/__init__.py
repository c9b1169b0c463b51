"""Benchmarks: ``rnnkit bench`` subcommands print tables of tokens/s and ratios."""
