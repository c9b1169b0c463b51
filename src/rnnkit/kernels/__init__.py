"""Kernels: ways to run one direction of one recurrent layer (or a whole stack) over time.

Kernels sit beside the stack: they may import ``functional`` and ``cells``, never ``layers``
or anything above. ``layers.dispatch`` chooses among them.
"""

from rnnkit.kernels.base import DirectionRun, Kernel
from rnnkit.kernels.reference import REFERENCE

__all__ = ["REFERENCE", "DirectionRun", "Kernel"]
