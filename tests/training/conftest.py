import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny models on a shared 2-core machine: intra-op threads only add contention
    # (a 9-step GRUCell batch goes from ~1 ms to ~100 ms with 2 busy threads).
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
