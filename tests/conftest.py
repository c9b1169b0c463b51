import os

# One BLAS/OpenMP thread per test process: pytest-xdist already runs one process per core, and
# oversubscription makes statsmodels/numpy fits 10-20x slower on a 2-core machine.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import pytest  # noqa: E402
import torch  # noqa: E402

# Without a GPU, Triton kernels (the engine's CUDA pointwise steps) run in Triton's CPU
# interpreter, which reads this when a kernel is defined: tests/kernels/test_triton_steps.py
# checks them against the reference loop that way.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

# Tiny models on a shared 2-core machine run far faster single-threaded (pytest-xdist already
# uses one process per core).
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
