"""Parallel-in-time benchmark (MinGRU / MinLSTM vs LSTM / GRU; Newton-parallel GRU).

Run: ``python benchmarks/parallel.py [--quick]``; the tables come from
``rnnkit.bench.parallel`` (also ``rnnkit bench parallel`` where the CLI wires it).
"""

import sys

from rnnkit.bench.parallel import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
