"""The fused engine: one direction of rnnkit's built-in cells, every variant, hand-written BPTT.

What it runs: LSTM (peephole, layer norm, projection), GRU (reset-after / reset-before, layer
norm) and Elman cells, with recurrent dropout, zoneout, ragged lengths and reverse direction —
everything torch's fused ops cannot compute. Per call:

1. ``cell.project_input`` for all steps (one GEMM, under ordinary autograd).
2. Ragged batches are sorted by length (descending) so that the sequences still running at
   step t are a prefix ``[:n_t]`` of the batch (as in a PackedSequence): every per-step op
   works on that prefix, padded steps cost nothing and need no masking ops.
3. A custom ``autograd.Function`` per cell family runs the recurrence: one ``addmm`` per step
   into a preallocated buffer plus a few in-place pointwise ops, saving only what backward
   needs; backward is the reverse loop (one ``mm`` per step for dh), with the weight
   gradients as single large GEMMs after the loop.

The masks (recurrent dropout, zoneout) are sampled by the layer and passed in, so the result
equals the reference loop exactly for the same masks.
"""

from __future__ import annotations

from rnnkit.kernels.engine.driver import ENGINE, engine_why_not

__all__ = ["ENGINE", "engine_why_not"]
