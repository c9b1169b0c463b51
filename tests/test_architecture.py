"""The layering rule, checked by parsing every import (lazy ones included), and the pinned
public API. See ARCHITECTURE.md."""

import ast
from pathlib import Path

import rnnkit

SRC = Path(__file__).resolve().parents[1] / "src" / "rnnkit"

BASE = {"functional", "cells", "kernels", "layers"}
# package -> the rnnkit packages it may import (besides itself)
ALLOWED = {
    "functional": set(),
    "cells": {"functional"},
    "kernels": {"functional", "cells"},
    "layers": {"functional", "cells", "kernels"},
    "data": set(),
    "metrics": {"data"},
    "metrics_seq": {"data"},
    "baselines": {"data", "metrics"},
    "training": {"data"},
    "models": BASE | {"data", "metrics"},
    "tasks": BASE | {"data", "metrics", "metrics_seq", "baselines", "training", "models",
                     "plots", "interpret", "forecasting"},
    "forecasting": BASE | {"data", "metrics", "models", "baselines"},
    "plots": {"data", "metrics"},
    "interpret": BASE | {"data", "models", "plots"},
    "bench": BASE | {"models", "training", "data"},
    "cli": None,  # the top: may import anything
    "__init__": BASE | {"models", "training", "data", "metrics"},
    "__main__": {"cli"},
}


def package_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


def rnnkit_imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "rnnkit" and len(parts) > 1:
                yield node.lineno, parts[1]


def test_every_package_is_classified():
    pkgs = {package_of(p) for p in SRC.rglob("*.py")}
    unknown = pkgs - set(ALLOWED)
    assert not unknown, f"classify {unknown} in ALLOWED here and in ARCHITECTURE.md"


def test_imports_only_go_downward():
    bad = []
    for path in SRC.rglob("*.py"):
        pkg = package_of(path)
        allowed = ALLOWED.get(pkg)
        if allowed is None:
            continue
        for line, target in rnnkit_imports(path):
            if target != pkg and target not in allowed:
                bad.append(f"{path.relative_to(SRC)}:{line} imports rnnkit.{target}")
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_public_api_pinned():
    core = {"RNN", "LSTM", "GRU", "Recurrent", "Bidirectional", "Stacked", "RNNBase",
            "RecurrentCell", "ElmanCell", "LSTMCell", "GRUCell", "RNNCell", "explain",
            "__version__"}
    assert core <= set(rnnkit.__all__)
    # torch.nn's cells at the top level, each also a step-contract cell (Recurrent runs it)
    from rnnkit import cells
    for public, contract in (("RNNCell", "ElmanCell"), ("LSTMCell", "LSTMCell"),
                             ("GRUCell", "GRUCell")):
        assert issubclass(getattr(rnnkit, public), getattr(cells, contract))
    for name in rnnkit.__all__:
        assert hasattr(rnnkit, name), name


def test_import_is_light():
    """`import rnnkit` must not pull optional heavy dependencies."""
    import subprocess
    import sys

    code = ("import sys, rnnkit; heavy = [m for m in ('pandas', 'matplotlib', 'statsmodels', "
            "'sklearn', 'triton') if m in sys.modules]; print(heavy); sys.exit(bool(heavy))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
