import ast
import csv
import json
from pathlib import Path

import pytest
import torch
from torch import nn

from rnnkit.training import Trainer, TrainerConfig, plot_history

SRC = Path(__file__).resolve().parents[2] / "src" / "rnnkit" / "training"


def fit(tmp_path, **kw):
    torch.manual_seed(0)
    x = torch.randn(16, 3)
    cfg = TrainerConfig(epochs=2, batch_size=8, **kw)
    return Trainer(cfg).fit(nn.Linear(3, 1), list(zip(x, x[:, :1])), list(zip(x, x[:, :1]))[:8],
                            loss_fn=nn.functional.mse_loss)


def test_history_files_and_plot(tmp_path):
    hist = fit(tmp_path, log_dir=str(tmp_path), progress="none")
    with open(tmp_path / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert float(rows[1]["val_loss"]) == pytest.approx(hist[1]["val_loss"])
    assert json.loads((tmp_path / "history.json").read_text())[1]["loss"] == hist[1]["loss"]
    png = (tmp_path / "history.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    out = plot_history(hist, tmp_path / "again.png", title="t")
    assert out.stat().st_size > 5000


def test_quiet_prints_nothing_and_epoch_mode_one_line_per_epoch(tmp_path, capsys):
    fit(tmp_path, progress="none")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    fit(tmp_path, progress="epoch")
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2 step 2 ") and "val_loss=" in lines[0]


def test_progress_bar_shows_loss_and_throughput(tmp_path, capsys):
    fit(tmp_path, progress="bar")
    err = capsys.readouterr().err
    assert "epoch 2/2" in err and "loss=" in err


def test_tensorboard_optional(tmp_path):
    pytest.importorskip("tensorboard")
    fit(tmp_path, log_dir=str(tmp_path), tensorboard=True, progress="none")
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))


ALLOWED = {"torch", "numpy", "safetensors", "tqdm", "matplotlib", "__future__",
           "rnnkit.data.collate"}
STDLIB = {"contextlib", "csv", "dataclasses", "hashlib", "itertools", "json", "logging", "math",
          "os", "pathlib", "random", "shutil", "sys", "time", "typing", "collections", "warnings"}


def test_training_imports_only_allowed_modules():
    for path in SRC.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for name in names:
                ok = name in ALLOWED or name.split(".")[0] in (ALLOWED | STDLIB) - {"rnnkit"}
                assert ok, f"{path.name} imports {name}: training may not depend on it"
