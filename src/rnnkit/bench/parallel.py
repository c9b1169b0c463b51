"""Parallel-in-time benchmarks: MinGRU / MinLSTM vs LSTM / GRU, and Newton-parallel GRU.

Tables (one process, configurations interleaved A B A B …, medians):

1. Train (forward + backward) and inference (no_grad forward) tokens/s for rnnkit MinGRU,
   MinLSTM, LSTM, GRU and torch.nn LSTM, GRU at T in {256, 2048, 16384} (B=16, I=64, H=256;
   at T=16384, B=2 keeps B·T at 32768 tokens), with each model's ratio to rnnkit LSTM.
2. Newton-parallel GRU (``impl='parallel'``) vs the sequential engine at small H: inference
   time, training time, Newton iterations to converge, and the crossover T (the smallest T at
   which parallel is faster), or "none" in the tested range.

Usage: ``python -m rnnkit.bench.parallel [--quick] [--reps N] [--threads N] [--clock cpu]``
(``--quick``: T ≤ 2048, one round; ``--clock cpu``: process CPU time, for shared machines).
A run that takes more than ``--slow`` seconds is not repeated (its one time is used).
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch

from rnnkit.kernels.allocator import retain_freed_memory

__all__ = ["main"]


def _models(I: int, H: int):
    from rnnkit import GRU, LSTM
    from rnnkit.layers.min_rnn import MinGRU, MinLSTM
    return {
        "rnnkit MinGRU": MinGRU(I, H, batch_first=True),
        "rnnkit MinLSTM": MinLSTM(I, H, batch_first=True),
        "rnnkit LSTM": LSTM(I, H, batch_first=True),
        "rnnkit GRU": GRU(I, H, batch_first=True),
        "torch.nn LSTM": torch.nn.LSTM(I, H, batch_first=True),
        "torch.nn GRU": torch.nn.GRU(I, H, batch_first=True),
    }


_CLOCK = {"now": time.perf_counter}  # --clock cpu: process CPU time (as bench/engine.py)


def _time(fn) -> float:
    now = _CLOCK["now"]
    t0 = now()
    fn()
    return now() - t0


def _train_step(m, x):
    def run():
        y, _ = m(x)
        y.float().sum().backward()
    return run


def _infer_step(m, x):
    def run():
        with torch.no_grad():
            m(x)
    return run


def _interleaved(fns: dict, reps: int, slow: float) -> dict:
    """Run every fn ``reps`` times in rounds (A B A B …); median seconds per fn."""
    times: dict = {k: [] for k in fns}
    for k, f in fns.items():  # warm-up (also measures: a slow one is not repeated)
        times[k].append(_time(f))
    for _ in range(reps - 1):
        for k, f in fns.items():
            if min(times[k]) < slow:
                times[k].append(_time(f))
    return {k: statistics.median(v[1:] if len(v) > 1 else v) for k, v in times.items()}


def _table(title: str, header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:>{w}}}" for w in widths)
    lines = [title, fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*r) for r in rows]
    return "\n".join(lines)


def bench_min_rnn(Ts, reps: int, slow: float, I: int = 64, H: int = 256) -> str:
    torch.manual_seed(0)
    models = _models(I, H)
    out = []
    for T in Ts:
        B = 16 if T <= 2048 else max(1, 32768 // T)
        x = torch.randn(B, T, I)
        for mode, make in (("train", _train_step), ("inference", _infer_step)):
            secs = _interleaved({k: make(m, x) for k, m in models.items()}, reps, slow)
            base = secs["rnnkit LSTM"]
            rows = [[k, f"{B * T / s:,.0f}", f"{base / s:.1f}x", f"{s * 1e3:.0f}"]
                    for k, s in secs.items()]
            out.append(_table(f"\n[{mode}] T={T} B={B} I={I} H={H}",
                              ["model", "tokens/s", "vs rnnkit LSTM", "ms"], rows))
            print(out[-1], flush=True)
    return "\n".join(out)


def bench_newton(Ts, reps: int, slow: float, B: int = 8, I: int = 16, H: int = 16) -> str:
    from rnnkit import GRU
    from rnnkit.kernels import newton
    torch.manual_seed(0)
    m = GRU(I, H, batch_first=True)
    newton.configure(m, max_iter=1000)
    rows, faster = [], {"inference": [], "train": []}
    for T in Ts:
        x = torch.randn(B, T, I)
        fns = {}
        for impl in ("sequential", "parallel"):
            def infer(impl=impl, x=x):
                m.impl = impl
                with torch.no_grad():
                    m(x)

            def train(impl=impl, x=x):
                m.impl = impl
                m(x)[0].sum().backward()
            fns[("inference", impl)], fns[("train", impl)] = infer, train
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a fallback would make the timing meaningless
            secs = _interleaved(fns, reps, slow)
            m.impl = "parallel"
            with torch.no_grad():
                m(x)
        iters = newton.last_stats().iterations
        m.impl = "parallel"
        m(x)[0].sum().backward()
        adj = newton.last_stats().adjoint_iterations
        row = [T, iters, adj]
        for mode in ("inference", "train"):
            s, p = secs[(mode, "sequential")], secs[(mode, "parallel")]
            row += [f"{s * 1e3:.1f}", f"{p * 1e3:.1f}", f"{s / p:.2f}x"]
            faster[mode].append((T, p < s))
        rows.append(row)
        print(f"  T={T}: iters={iters} adjoint={adj} " + " ".join(map(str, row[3:])), flush=True)
    crossover = {k: _crossover(v) for k, v in faster.items()}
    cross = ", ".join(f"{k}: {'T=' + str(v) if v else 'none in range'}"
                      for k, v in crossover.items())
    m.impl = "sequential"
    with torch.no_grad():
        m(torch.randn(B, 8, I))
    text = _table(f"\n[Newton-parallel GRU vs sequential] B={B} I={I} H={H} "
                  f"(sequential = impl='sequential', which ran the '{m.last_kernel}' kernel)",
                  ["T", "newton iters", "adjoint iters", "inf seq ms", "inf par ms",
                   "inf speedup", "train seq ms", "train par ms", "train speedup"], rows)
    text += f"\ncrossover T (parallel faster): {cross}"
    print(text, flush=True)
    return text


def _crossover(points: list[tuple[int, bool]]) -> int | None:
    """Smallest tested T from which parallel is faster at every larger tested T."""
    best = None
    for T, wins in reversed(points):
        if not wins:
            break
        best = T
    return best


def main(argv: list[str] | None = None) -> int:
    retain_freed_memory()  # as in bench/engine.py: no per-call page faults on either side
    p = argparse.ArgumentParser(prog="rnnkit bench parallel", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="T <= 2048, one timed round")
    p.add_argument("--reps", type=int, default=3, help="rounds per configuration (median)")
    p.add_argument("--slow", type=float, default=5.0,
                   help="seconds above which a configuration is not repeated")
    p.add_argument("--only", choices=["min", "newton"], default=None)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                   help="wall time, or this process's CPU time (steadier on a shared machine; "
                        "equal to wall time on an idle one with --threads 1)")
    args = p.parse_args(argv)
    if args.threads < 0:
        p.error(f"--threads: expected 0 (torch's default) or a positive count, got "
                f"{args.threads}. Pass e.g. --threads 1.")
    if args.threads:
        torch.set_num_threads(args.threads)
    _CLOCK["now"] = time.process_time if args.clock == "cpu" else time.perf_counter
    reps = 2 if args.quick else args.reps  # the first round is a warm-up
    dev = (f"CPU, {torch.get_num_threads()} threads, torch {torch.__version__}, "
           f"clock={args.clock}")
    print(f"rnnkit parallel-in-time benchmark ({dev})", flush=True)
    if args.only in (None, "min"):
        bench_min_rnn([256, 2048] if args.quick else [256, 2048, 16384], reps, args.slow)
    if args.only in (None, "newton"):
        Ts = [64, 256, 1024] if args.quick else [64, 256, 1024, 4096]
        bench_newton(Ts, reps, args.slow)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
