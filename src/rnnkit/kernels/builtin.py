"""The table of built-in kernels that ``layers.dispatch`` chooses from.

Each kernel module defines a ``Kernel`` record; list it here (direction or stack level).
"""

from __future__ import annotations

from rnnkit.kernels.engine import ENGINE  # fused engine (issue 3)
from rnnkit.kernels.newton import NEWTON  # parallel-in-time (issue 6)
from rnnkit.kernels.reference import REFERENCE
from rnnkit.kernels.scan_kernel import SCAN  # parallel-in-time (issue 6)
from rnnkit.kernels.torch_fused import TORCH  # torch's fused op (issue 3)

DIRECTION = [REFERENCE]
DIRECTION += [ENGINE]  # fused engine (issue 3)
DIRECTION += [SCAN, NEWTON]  # parallel-in-time (issue 6)
# Kernels that evaluate all T at once; impl='sequential' excludes them.
PARALLEL = frozenset({"scan", "parallel"})
STACK: list = []
STACK += [TORCH]  # torch's fused op for standard layers (issue 3)
