"""``rnnkit bench``: rnnkit vs torch.nn (Keras 3 when installed, the naive autograd loop), in one
process, interleaved.

For each shape and each RNN / LSTM / GRU variant: train (forward + backward) and inference
times (medians over interleaved repeats: baseline, rnnkit, baseline, rnnkit, ...), tokens/s,
% of a matrix-multiply peak measured in the same run, the ratio torch.nn standard / rnnkit,
and (``--memory``) peak training memory measured in a child process per configuration.
Keras 3, when installed, runs the same configurations on its torch backend
(``bench/keras_side.py``): its times and the ratio Keras / rnnkit are reported beside.
Plus bf16 autocast training and single-step streaming latency at B=1.

``--device cuda`` runs the same table on a GPU: torch.nn is cuDNN there, rnnkit's variants run
the engine with its Triton step, every timing waits for the device, memory is the CUDA
allocator's peak for one training step, and Keras is skipped.

Example::

    python -m rnnkit.bench.engine --shapes 0 --json out.json
    rnnkit bench --device cuda --shapes 0,1
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from contextlib import nullcontext

import torch

from rnnkit.kernels.allocator import retain_freed_memory

__all__ = ["main"]

SHAPES = [(64, 100, 128, 256), (32, 500, 64, 512), (1, 1000, 32, 128)]
VARIANTS = {
    "LSTM": {"standard": {}, "peephole": {"peephole": True}, "layer_norm": {"layer_norm": True},
             "recurrent_dropout": {"recurrent_dropout": 0.1}, "zoneout": {"zoneout": 0.1},
             "ragged": {}},
    "GRU": {"standard": {}, "reset_before": {"reset_after": False},
            "layer_norm": {"layer_norm": True}, "recurrent_dropout": {"recurrent_dropout": 0.1},
            "zoneout": {"zoneout": 0.1}, "ragged": {}},
    "RNN": {"standard": {}, "recurrent_dropout": {"recurrent_dropout": 0.1},
            "zoneout": {"zoneout": 0.1}, "ragged": {}},
}
_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


_DEVICE = {"name": "cpu"}  # --device


def _build(family: str, variant: str, shape, impl: str = "auto", torch_nn: bool = False):
    import rnnkit

    B, T, I, H = shape
    dev = _DEVICE["name"]
    if torch_nn:
        layer = getattr(torch.nn, family)(I, H, batch_first=True)
    else:
        layer = getattr(rnnkit, family)(I, H, batch_first=True, impl=impl,
                                        **VARIANTS[family][variant])
    g = torch.Generator().manual_seed(0)
    x = torch.randn(B, T, I, generator=g)
    lengths = None
    if variant == "ragged":
        lengths = torch.randint(T // 2, T + 1, (B,), generator=g)
        lengths[0] = T
        lengths = lengths.to(dev)
    return layer.to(dev), x.to(dev), lengths


def _train_fn(layer, x, lengths, autocast=False):
    ctx = torch.autocast(_DEVICE["name"], dtype=torch.bfloat16) if autocast else nullcontext()

    def f():
        layer.train()
        with ctx:
            y, _ = layer(x) if lengths is None else layer(x, lengths=lengths)
        y.float().sum().backward()
    return f


def _infer_fn(layer, x, lengths):
    def f():
        layer.eval()
        with torch.no_grad():
            layer(x) if lengths is None else layer(x, lengths=lengths)
    return f


_CLOCK = {"now": time.perf_counter}  # --clock cpu: process CPU time (robust on a shared box)
_CLEAN_ENV: dict[str, str] = dict(os.environ)  # at import, before Keras touches os.environ


def _sync() -> None:
    if _DEVICE["name"] == "cuda":
        torch.cuda.synchronize()


def _interleaved(fns: dict, repeats: int) -> dict:
    times, now = {k: [] for k in fns}, _CLOCK["now"]
    for f in fns.values():
        f()  # warm-up (on CUDA: Triton compiles, cuDNN picks its algorithms)
    _sync()
    for _ in range(repeats):
        for k, f in fns.items():
            t0 = now()
            f()
            _sync()  # a GPU call returns before its kernels finish
            times[k].append(now() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def _peak_gflops(dtype=torch.float32, n: int = 1024) -> float:
    from rnnkit.kernels.torch_fused import mm_nt

    if _DEVICE["name"] == "cuda":
        n = 8192
    a = torch.randn(n, n, dtype=dtype, device=_DEVICE["name"])
    b = torch.randn(n, n, dtype=dtype, device=_DEVICE["name"])
    t = _interleaved({"mm": lambda: mm_nt(a, b)}, 5)["mm"]
    return 2 * n**3 / t / 1e9


def _flops(family: str, shape, train: bool) -> float:
    B, T, I, H = shape
    f = 2 * B * T * _GATES[family] * H * (I + H)
    return 3 * f if train else f


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(ln.split()[1]) for ln in f if ln.startswith(field + ":"))


def _memory_child(spec: str) -> None:
    """Print the KB a training step adds to this (fresh) process's peak resident memory.

    The peak is VmHWM, reset after the warm-up step by writing 5 to /proc/self/clear_refs:
    ``ru_maxrss`` would not do, Linux carries it over from the parent across fork + exec (the
    benchmark's own, growing peak showed up in every child's figure)."""
    family, variant, shape, torch_nn = json.loads(spec)
    layer, x, lengths = _build(family, variant, tuple(shape), torch_nn=torch_nn)
    _train_fn(layer, x, lengths)()  # warm-up: allocator, oneDNN primitives, native build
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        reset = True
    except OSError:
        reset = False
    before = _status_kb("VmRSS")
    _train_fn(layer, x, lengths)()
    peak = _status_kb("VmHWM") if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(peak - before)


def _peak_memory_mb(family, variant, shape, torch_nn) -> float:
    if _DEVICE["name"] == "cuda":  # the CUDA allocator's own peak, above what was live before
        layer, x, lengths = _build(family, variant, shape, torch_nn=torch_nn)
        _train_fn(layer, x, lengths)()
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        _train_fn(layer, x, lengths)()
        torch.cuda.synchronize()
        return (torch.cuda.max_memory_allocated() - before) / 2**20
    spec = json.dumps([family, variant, list(shape), torch_nn])
    code = f"from rnnkit.bench.engine import _memory_child; _memory_child({spec!r})"
    # the environment from before Keras was imported (it sets KMP_* / TF_* variables), and
    # glibc told to map every block >= 64 KB on its own and return it at free: the child's
    # resident size then follows its live memory, not what the allocator keeps for reuse
    env = {**_CLEAN_ENV, "MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0",
           "RNNKIT_RETAIN_MEMORY": "0"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    return int(out.stdout.strip() or 0) / 1024


def _case(family, variant, shape, repeats, naive, memory, keras=False) -> dict:
    ours, x, lengths = _build(family, variant, shape)
    ref, _, _ = _build(family, "standard", shape, torch_nn=True)
    fns = {"torch.nn/train": _train_fn(ref, x, None), "rnnkit/train": _train_fn(ours, x, lengths),
           "torch.nn/infer": _infer_fn(ref, x, None), "rnnkit/infer": _infer_fn(ours, x, lengths)}
    if keras:
        from rnnkit.bench.keras_side import keras_fns

        fns.update(keras_fns(family, variant, shape, x, lengths))
    if naive:
        slow, _, _ = _build(family, variant, shape, impl="reference")
        fns["naive/train"] = _train_fn(slow, x, lengths)
        fns["naive/infer"] = _infer_fn(slow, x, lengths)
    t = _interleaved(fns, repeats)
    ours.train()
    row = {"family": family, "variant": variant, "shape": list(shape),
           "kernel_train": ours.explain(x, lengths).name,
           "times_ms": {k: v * 1e3 for k, v in t.items()}}
    ours.eval()
    row["kernel_infer"] = ours.explain(x, lengths).name
    for mode in ("train", "infer"):
        row[f"ratio_{mode}"] = t[f"torch.nn/{mode}"] / t[f"rnnkit/{mode}"]
        row[f"tokens_per_s_{mode}"] = shape[0] * shape[1] / t[f"rnnkit/{mode}"]
        row[f"gflops_{mode}"] = _flops(family, shape, mode == "train") / t[f"rnnkit/{mode}"] / 1e9
        if f"keras/{mode}" in t:  # > 1: rnnkit is faster than Keras on the same variant
            row[f"ratio_keras_{mode}"] = t[f"keras/{mode}"] / t[f"rnnkit/{mode}"]
    if memory:
        row["peak_mem_mb"] = {"torch.nn": _peak_memory_mb(family, "standard", shape, True),
                              "rnnkit": _peak_memory_mb(family, variant, shape, False)}
    return row


def _bf16_rows(shape, repeats) -> list[dict]:
    """bf16 autocast training of rnnkit and torch.nn against torch.nn's fp32, per family."""
    rows = []
    for family, variant in ((f, v) for f in ("LSTM", "GRU") for v in VARIANTS[f]):
        ours, x, lengths = _build(family, variant, shape)
        ref, _, _ = _build(family, "standard", shape, torch_nn=True)
        ref16, _, _ = _build(family, "standard", shape, torch_nn=True)
        fns = {"torch.nn fp32": _train_fn(ref, x, None),
               "torch.nn bf16": _train_fn(ref16, x, None, autocast=True),
               "rnnkit bf16": _train_fn(ours, x, lengths, autocast=True)}
        note = None
        try:
            fns["torch.nn bf16"]()
        except RuntimeError as e:  # oneDNN's bf16 LSTM needs AVX-512 / AVX-NE-CONVERT
            del fns["torch.nn bf16"]
            note = f"torch.nn bf16 fails on this CPU: {str(e).splitlines()[0][:90]}"
        t = _interleaved(fns, repeats)
        row = {"family": family, "variant": variant, "shape": list(shape),
               "times_ms": {k: v * 1e3 for k, v in t.items()},
               "ratio_vs_torch_fp32": t["torch.nn fp32"] / t["rnnkit bf16"]}
        if note:
            row["note"] = note
        rows.append(row)
    return rows


def _streaming(repeats: int, steps: int = 200) -> list[dict]:
    import rnnkit

    rows = []
    for variant, kw in (("standard", {}), ("peephole", {"peephole": True})):
        dev = _DEVICE["name"]
        ours = rnnkit.LSTM(32, 128, batch_first=True, **kw).to(dev).eval()
        ref = torch.nn.LSTM(32, 128, batch_first=True).to(dev).eval()
        xs = torch.randn(steps, 1, 32, device=dev)

        def run_ours(ours=ours, xs=xs):
            with torch.no_grad():
                s = None
                for x in xs:
                    _, s = ours.step(x, s)

        def run_ref(ref=ref, xs=xs):
            with torch.no_grad():
                s = None
                for x in xs:
                    _, s = ref(x.unsqueeze(1), s)
        t = _interleaved({"torch.nn": run_ref, "rnnkit": run_ours}, repeats)
        rows.append({"variant": variant, "us_per_step": {k: v / steps * 1e6 for k, v in t.items()},
                     "ratio": t["torch.nn"] / t["rnnkit"]})
    return rows


def _print(report: dict) -> None:
    dev = report.get("device", "cpu")
    blas = "cuBLAS" if dev == "cuda" else "oneDNN"
    print(f"device {dev}; matmul peak ({blas}, this run): fp32 {report['peak_gflops_fp32']:.0f} "
          f"GFLOP/s, bf16 {report['peak_gflops_bf16']:.0f} GFLOP/s; threads="
          f"{','.join(map(str, report['threads']))} (torch's default "
          f"{report.get('default_threads', '?')}), "
          f"clock={report.get('clock', 'wall')}")
    hdr = (f"{'thr':>3} {'shape':>20} {'cell':>4} {'variant':>17} {'kernel':>9} | "
           f"{'nn tr':>7} {'rk tr':>7} "
           f"{'ratio':>5} {'%pk':>4} | {'nn inf':>7} {'rk inf':>7} {'ratio':>5} {'%pk':>4} | "
           f"{'tok/s tr':>9} | {'naive tr/inf':>13} | {'keras tr/inf (x rk)':>27} | "
           f"{'mem nn/rk MB':>12}")
    print(hdr)
    for r in report["cases"]:
        t, (B, T, I, H) = r["times_ms"], r["shape"]
        naive = (f"{t['naive/train']:6.0f}/{t['naive/infer']:6.0f}" if "naive/train" in t
                 else "")
        mem = (f"{r['peak_mem_mb']['torch.nn']:5.0f}/{r['peak_mem_mb']['rnnkit']:5.0f}"
               if "peak_mem_mb" in r else "")
        keras = (f"{t['keras/train']:6.0f}/{t['keras/infer']:6.0f} ({r['ratio_keras_train']:4.1f}/"
                 f"{r['ratio_keras_infer']:4.1f})" if "keras/train" in t else "")
        pk = report["peak_gflops_fp32"]
        print(f"{r.get('threads', 0):>3} {f'B{B} T{T} I{I} H{H}':>20} {r['family']:>4} "
              f"{r['variant']:>17} "
              f"{r['kernel_train']:>9} | {t['torch.nn/train']:7.1f} {t['rnnkit/train']:7.1f} "
              f"{r['ratio_train']:5.2f} {100 * r['gflops_train'] / pk:4.0f} | "
              f"{t['torch.nn/infer']:7.1f} {t['rnnkit/infer']:7.1f} {r['ratio_infer']:5.2f} "
              f"{100 * r['gflops_infer'] / pk:4.0f} | {r['tokens_per_s_train']:9.0f} | "
              f"{naive:>13} | {keras:>27} | {mem:>12}")
    for r in report.get("bf16", []):
        t = r["times_ms"]
        times = ", ".join(f"{k} {v:.1f} ms" for k, v in t.items())
        note = f" ({r['note']})" if r.get("note") else ""
        print(f"[{r.get('threads', 0)} thr] bf16 train {r.get('family', 'LSTM')} {r['variant']}: "
              f"{times}; rnnkit bf16 vs "
              f"torch.nn fp32: "
              f"{r['ratio_vs_torch_fp32']:.2f}x{note}")
    for r in report.get("streaming", []):
        u = r["us_per_step"]
        print(f"[{r.get('threads', 0)} thr] streaming B=1 {r.get('family', 'LSTM')} "
              f"{r['variant']}: torch.nn {u['torch.nn']:.1f} us/step, "
              f"rnnkit {u['rnnkit']:.1f} us/step, ratio {r['ratio']:.2f}")
    print(f"keras: {report['keras']}")


def _selection(p: argparse.ArgumentParser, a: argparse.Namespace,
               ) -> tuple[set[str], list[int], list[str]]:
    """Validated ``(variants, shape indices, cell families)`` from the command line."""
    names = {f.lower(): f for f in VARIANTS}
    families = []
    for c in filter(None, a.cells.split(",")):
        if c.strip().lower() not in names:
            p.error(f"--cells: expected a comma list of {', '.join(VARIANTS)}, got {c!r}. "
                    f"Pass e.g. --cells LSTM,GRU.")
        families.append(names[c.strip().lower()])
    shape_ids = []
    for s in filter(None, a.shapes.split(",")):
        if not (s.strip().isdigit() and int(s) < len(SHAPES)):
            p.error(f"--shapes: expected indices 0..{len(SHAPES) - 1} into {SHAPES}, got "
                    f"{s!r}. Pass e.g. --shapes 0,2.")
        shape_ids.append(int(s))
    only = set(filter(None, a.variants.split(",")))
    known = {v for f in families for v in VARIANTS[f]}
    if only - known:
        p.error(f"--variants: expected some of {sorted(known)}, got "
                f"{sorted(only - known)}. Pass e.g. --variants standard,layer_norm.")
    return only, shape_ids, families


def _thread_sets(p: argparse.ArgumentParser, spec: str) -> list[int]:
    """``--threads`` as thread counts, 0 read as torch's default (the count at start-up)."""
    default, out = torch.get_num_threads(), []
    for s in filter(None, (v.strip() for v in spec.split(","))):
        if not s.isdigit():
            p.error(f"--threads: expected a comma list of thread counts (0: torch's default), "
                    f"got {s!r}. Pass e.g. --threads 0,1.")
        n = int(s) or default
        if n not in out:
            out.append(n)
    if not out:
        p.error("--threads: expected at least one thread count, got none. Pass e.g. "
                "--threads 0,1.")
    return out


def main(argv: list[str] | None = None) -> int:
    # both sides run in this process, so both reuse freed buffers instead of page-faulting
    # them in again on every call (which dominates timings on a VM; kernels/allocator.py)
    retain_freed_memory()
    p = argparse.ArgumentParser(prog="rnnkit bench", description=__doc__.splitlines()[0])
    p.add_argument("--shapes", default="0,1,2", help="indices into " + str(SHAPES))
    p.add_argument("--cells", default="LSTM,GRU,RNN")
    p.add_argument("--variants", default="", help="comma list (default: all)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", default="0,1",
                   help="comma list of torch thread counts, one row set each (0: torch's "
                        "default, the count users run; default: 0,1)")
    p.add_argument("--no-naive", action="store_true", help="skip the naive autograd loop")
    p.add_argument("--no-keras", action="store_true", help="skip Keras 3 even when installed")
    p.add_argument("--memory", action="store_true",
                   help="peak training memory (child processes; shapes with B > 1: at B=1 "
                        "the few MB a step adds are noise)")
    p.add_argument("--no-extras", action="store_true", help="skip bf16 and streaming")
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="wall time, or this process's CPU time (steadier when other jobs share "
                        "the machine; equal to wall time on an idle one with --threads 1)")
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                   help="where both sides run (cuda: torch.nn is cuDNN, rnnkit's variants the "
                        "engine with its Triton step; wall clock, Keras skipped)")
    a = p.parse_args(argv)
    if a.device == "cuda" and not torch.cuda.is_available():
        p.error("--device: expected a usable CUDA device, got none (torch.cuda.is_available() "
                "is False). Run on a machine with a GPU, or use --device cpu.")
    if a.device == "cuda" and a.clock == "cpu":
        p.error("--clock: expected wall with --device cuda, got cpu (this process's CPU time "
                "does not count the GPU's). Drop --clock cpu.")
    _DEVICE["name"] = a.device
    _CLOCK["now"] = time.process_time if a.clock == "cpu" else time.perf_counter
    default_threads = torch.get_num_threads()
    thread_sets = _thread_sets(p, a.threads)
    torch.set_num_threads(thread_sets[0])
    from rnnkit.bench import keras_side

    keras_note = ("skipped (--no-keras)" if a.no_keras else "skipped (--device cuda)"
                  if a.device == "cuda" else keras_side.status())
    use_keras = keras_note.startswith("Keras") and "skipped" not in keras_note
    only, shape_ids, families = _selection(p, a)
    report = {"device": a.device, "threads": thread_sets, "default_threads": default_threads,
              "clock": a.clock,
              "peak_gflops_fp32": _peak_gflops(),
              "peak_gflops_bf16": _peak_gflops(torch.bfloat16), "keras": keras_note, "cases": []}
    for threads in thread_sets:  # one row set per thread count (memory: the first only)
        torch.set_num_threads(threads)
        for si in shape_ids:
            shape = SHAPES[si]
            for family in families:
                for variant in VARIANTS[family]:
                    if only and variant not in only:
                        continue
                    naive = not a.no_naive and variant == "standard" and shape[1] <= 100
                    mem = a.memory and shape[0] > 1 and threads == thread_sets[0]
                    row = _case(family, variant, shape, a.repeats, naive, mem, use_keras)
                    row["threads"] = threads
                    report["cases"].append(row)
                    print(f"[{family} {variant} {shape} threads={threads}] train "
                          f"{row['ratio_train']:.2f}x infer {row['ratio_infer']:.2f}x",
                          file=sys.stderr, flush=True)
        if not a.no_extras:
            report.setdefault("bf16", []).extend(
                {**r, "threads": threads} for r in _bf16_rows(SHAPES[0], a.repeats))
            report.setdefault("streaming", []).extend(
                {**r, "threads": threads} for r in _streaming(a.repeats))
    torch.set_num_threads(default_threads)
    _print(report)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
