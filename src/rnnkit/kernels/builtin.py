"""The table of built-in kernels that ``layers.dispatch`` chooses from.

Each kernel module defines a ``Kernel`` record; list it here (direction or stack level).
"""

from __future__ import annotations

from rnnkit.kernels.reference import REFERENCE

DIRECTION = [REFERENCE]
STACK: list = []
