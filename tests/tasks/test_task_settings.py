"""The typed task layer: frozen settings validated with UsageError, the --data resolver, the
datasets 'ready' column, the run-directory rules in-process, and the progress label."""

from __future__ import annotations

import dataclasses
import json
import types

import pytest

from rnnkit.tasks import rundir
from rnnkit.tasks.common import COMMON_DEFAULTS, load_weights, make_out_dir, save_weights
from rnnkit.tasks.errors import UsageError
from rnnkit.tasks.sources import is_path, resolve_source
from rnnkit.tasks.tag import DEFAULTS as TAG_DEFAULTS
from rnnkit.tasks.tag import TagSettings
from rnnkit.tasks.task import CommonSettings, Task


def test_settings_are_frozen_typed_and_round_trip():
    s = TagSettings.from_dict({**COMMON_DEFAULTS, **TAG_DEFAULTS, "epochs": 3})
    assert (s.epochs, s.hidden_size, s.crf, s.data) == (3, 128, False, "kjv-case")
    assert TagSettings.from_dict(s.to_dict()) == s
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.epochs = 4  # type: ignore[misc]
    assert set(COMMON_DEFAULTS) == {f.name for f in dataclasses.fields(CommonSettings)}


@pytest.mark.parametrize("bad, needle", [
    ({"epochs": 0}, "--epochs: expected a number >= 1, got 0"),
    ({"dropout": 1.5}, "--dropout: expected a number in [0, 1)"),
    ({"hidden_size": "64"}, "--hidden-size: expected an integer, got '64'"),
    ({"lr": True}, "--lr: expected a number, got True"),
    ({"max_train": 2.5}, "--max-train: expected an integer"),
    ({"model": "transformer"}, "--model: expected one of lstm"),
    ({"precision": "fp8"}, "--precision: expected one of fp32"),
    ({"time_budget": float("nan")}, "--time-budget: expected a number >= 0"),
    ({"hiden_size": 3}, "got ['hiden_size']"),
], ids=["epochs", "dropout", "type", "bool-as-number", "int", "model", "precision", "nan",
        "unknown-key"])
def test_settings_errors_name_the_flag(bad, needle):
    with pytest.raises(UsageError) as e:
        TagSettings.from_dict(bad)
    assert needle in str(e.value)


def test_task_modules_follow_the_protocol():
    import importlib

    from rnnkit.tasks import TASK_MODULES

    for name, module in TASK_MODULES.items():
        mod = importlib.import_module(module)
        assert isinstance(mod, Task), name


def test_one_data_resolver(tmp_path):
    f = tmp_path / "my.csv"
    f.write_text("a\n1\n")
    assert resolve_source(str(f)).kind == "file" and resolve_source(str(f)).path == f.resolve()
    assert resolve_source("airline").kind == "builtin"
    assert resolve_source("GUNPOINT").name == "GunPoint"
    assert is_path("x.ts") and is_path("dir/data") and not is_path("kjv-case")
    with pytest.raises(UsageError, match="Did you mean 'GunPoint'"):
        resolve_source("gunpiont")
    with pytest.raises(UsageError, match="no such file"):
        resolve_source(str(tmp_path / "missing.csv"), "--test-data")
    with pytest.raises(UsageError, match="a folder"):
        resolve_source(str(tmp_path))


def test_datasets_mark_what_is_not_ready(monkeypatch):
    from rnnkit.data import builtin, registry

    assert registry.dataset_missing("airline") is None
    def missing(name):
        raise FileNotFoundError(name)

    monkeypatch.setattr(builtin, "find_ucr_files", missing)
    table = registry.format_datasets()
    row = next(ln for ln in table.splitlines() if ln.startswith("GunPoint"))
    assert " NO " in row
    assert "GunPoint: its .ts files are not installed: pip install --no-deps sktime" in table


def _cfg(out, **kw):
    return {**COMMON_DEFAULTS, "out": str(out), **kw}


def test_make_out_dir_rules(tmp_path):
    out = make_out_dir(_cfg(tmp_path / "a", epochs=2), "lm", "tiny")
    m = json.loads((out / "run.json").read_text())
    assert m["status"] == "training" and m["settings"]["epochs"] == 2
    (out / "config.json").write_text("{}")
    with pytest.raises(UsageError, match="--overwrite"):
        make_out_dir(_cfg(out), "lm", "tiny")
    make_out_dir(_cfg(out, overwrite=True), "lm", "tiny")
    assert not (out / "config.json").exists()
    other = tmp_path / "b"
    other.mkdir()
    (other / "x.txt").write_text("mine")
    with pytest.raises(UsageError, match="other files"):
        make_out_dir(_cfg(other, overwrite=True), "lm", "tiny")


def test_a_nearly_full_disk_is_refused_before_training(tmp_path, monkeypatch):
    import shutil

    usage = types.SimpleNamespace(total=1 << 30, used=1 << 30, free=1 << 20)
    monkeypatch.setattr(shutil, "disk_usage", lambda p: usage)
    with pytest.raises(UsageError, match="MiB free"):
        make_out_dir(_cfg(tmp_path / "full"), "lm", "tiny")


def test_weights_checksum_is_recorded_and_verified(tmp_path):
    import torch

    out = make_out_dir(_cfg(tmp_path / "w"), "lm", "tiny")
    model = torch.nn.Linear(3, 2)
    save_weights(model, out)
    digest = json.loads((out / "run.json").read_text())["weights_sha256"]
    assert digest == rundir.file_sha256(out / "model.safetensors")
    load_weights(torch.nn.Linear(3, 2), out)
    with pytest.raises(UsageError, match=r"expected config\.json's model to match"):
        load_weights(torch.nn.Linear(4, 2), out)


def test_epoch_label_shows_real_totals():
    from rnnkit.training.progress import epoch_label

    def trainer(epochs, budget=None, callbacks=()):
        cfg = types.SimpleNamespace(epochs=epochs, time_budget=budget)
        return types.SimpleNamespace(epoch=5, config=cfg,
                                     callbacks=types.SimpleNamespace(callbacks=list(callbacks)))

    assert epoch_label(trainer(10)) == "epoch 6/10"
    assert epoch_label(trainer(10, 60)) == "epoch 6/10, budget 60 s"
    assert epoch_label(trainer(100_000, 600)) == "epoch 6 (until the 600 s budget)"
    clock = types.SimpleNamespace(budget=30.0)
    assert epoch_label(trainer(100_000, None, [clock])) == "epoch 6 (until the 30 s budget)"


def test_a_failed_run_takes_back_what_it_wrote(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    for out in (tmp_path / "new", empty):
        with pytest.raises(RuntimeError), rundir.session():
            make_out_dir(_cfg(out), "lm", "tiny")
            raise RuntimeError("a failure before the first checkpoint")
        assert not out.exists() if out.name == "new" else list(out.iterdir()) == []
