"""Thin script: the engine benchmark (``rnnkit bench``); see ``rnnkit.bench.engine``."""

import sys

from rnnkit.bench.engine import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
