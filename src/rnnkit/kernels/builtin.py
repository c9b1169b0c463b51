"""The table of built-in kernels that ``layers.dispatch`` chooses from.

Each kernel module defines a ``Kernel`` record; list it here (direction or stack level).
"""

from __future__ import annotations

from rnnkit.kernels.engine import ENGINE  # fused engine (issue 3)
from rnnkit.kernels.reference import REFERENCE
from rnnkit.kernels.torch_fused import TORCH  # torch's fused op (issue 3)

DIRECTION = [REFERENCE]
DIRECTION += [ENGINE]  # fused engine (issue 3)
STACK: list = []
STACK += [TORCH]  # torch's fused op for standard layers (issue 3)
