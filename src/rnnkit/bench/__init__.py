"""Benchmarks: ``rnnkit bench`` (engine vs torch.nn), importable so tests can smoke-run them."""
