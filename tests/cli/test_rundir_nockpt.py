"""Run directories of the training paths that keep no checkpoints (issue 19): the many-series
forecaster (``rnnkit train forecast`` on a long table) and classification's model selection by
cross-validation (``--cv-folds``, the default for numeric sequences).

Like every run: settings in ``run.json`` before training, an existing run refused without
``--overwrite``. On ``--resume DIR`` / ``rnnkit resume DIR`` there is nothing to continue: a
finished run is a one-line note (exit 0), an unfinished one (``kill -9``) a one-line error
(exit 2), both naming the fix ``rnnkit resume DIR --overwrite``, which trains the run again
from the beginning with its own settings. Never a traceback, never a silent retraining.
"""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

PANEL = ["--quiet", "--max-steps", "20", "--hidden-size", "8", "--batch-size", "16",
         "--combine", "rnn", "--season", "4", "--horizon", "4", "--no-baselines"]
CV = ["--quiet", "--epochs", "1", "--hidden-size", "4", "--batch-size", "16", "--cv-folds",
      "2", "--rocket-weight", "0"]


def _cmd(*args):
    return [sys.executable, "-m", "rnnkit", *map(str, args)]


def _rnnkit(*args):
    return subprocess.run(_cmd(*args), capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def _one_line_error(r, *needles):
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("rnnkit: error:")]
    assert len(lines) == 1, r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def _long_csv(path, n=6, length=32):
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        t = np.arange(length)
        y = 40 + i + 0.3 * t + 4 * np.sin(2 * np.pi * t / 4) + rng.normal(0, 0.5, length)
        rows.append(pd.DataFrame({"unique_id": f"s{i}", "ds": t + 1, "y": y}))
    pd.concat(rows).to_csv(path, index=False)
    return path


def _ucr_csv(path, n=40):
    rng = np.random.default_rng(0)
    y = np.arange(n) % 2
    X = rng.normal(size=(n, 12)) + y[:, None] * np.linspace(-1, 1, 12)
    df = pd.DataFrame(X, columns=[f"t{i}" for i in range(12)])
    df["label"] = np.where(y == 1, "up", "down")
    df.to_csv(path, index=False)
    return path


def _manifest(d):
    return json.loads((d / "run.json").read_text())


def _snapshot(d):
    return {p.name: p.stat().st_mtime_ns for p in d.iterdir()}


def _set_status(d, status):
    m = _manifest(d)
    m["status"] = status
    (d / "run.json").write_text(json.dumps(m))


def _resume_rules(d, task, metric, killed):
    """The shared checks on a finished run ``d`` of a path without checkpoints; ``killed``:
    also the error for an unfinished one (the kill -9 test covers it for real)."""
    before = _snapshot(d)
    r = _rnnkit("resume", d)  # finished: a note, nothing touched
    assert r.returncode == 0, r.stderr
    assert "nothing to resume" in r.stderr and f"rnnkit resume {d} --overwrite" in r.stderr
    assert "Traceback" not in r.stderr
    if not killed:
        _one_line_error(_rnnkit("train", task, "--resume", d, "--epochs", 5),
                        "keeps no checkpoints", "--overwrite")
    else:
        _set_status(d, "training")  # as a kill -9 leaves it
        before = _snapshot(d)
        _one_line_error(_rnnkit("resume", d), "did not finish", "keeps no checkpoints",
                        f"rnnkit resume {d} --overwrite")
    assert _snapshot(d) == before
    old = json.loads((d / "metrics.json").read_text())
    r = _rnnkit("train", task, "--resume", d, "--overwrite")  # the fix: same settings again
    assert r.returncode == 0, r.stderr
    assert "again from the beginning" in r.stderr
    assert _manifest(d)["status"] == "finished"
    new = json.loads((d / "metrics.json").read_text())
    assert new["test"][metric] == old["test"][metric]  # same settings and seed: same result


def test_panel_forecast_run_directory_rules(tmp_path):
    data, d = _long_csv(tmp_path / "long.csv"), tmp_path / "run"
    r = _rnnkit("train", "forecast", "--data", data, "--out", d, *PANEL)
    assert r.returncode == 0, r.stderr
    m = _manifest(d)
    assert m["no_checkpoints"] == "the many-series forecaster"
    assert m["settings"]["max_steps"] == 20 and m["settings"]["data"] == str(data.resolve())
    before = _snapshot(d)
    _one_line_error(_rnnkit("train", "forecast", "--data", data, "--out", d, *PANEL),
                    "holds an earlier run", "--overwrite")
    assert _snapshot(d) == before
    _resume_rules(d, "forecast", "smape", killed=False)


def test_panel_forecast_killed_run_keeps_its_settings_and_is_not_retrained(tmp_path):
    """run.json is written before training; after kill -9 --resume says what to do."""
    data, d = _long_csv(tmp_path / "long.csv"), tmp_path / "run"
    args = [a if a != "20" else "1000000" for a in PANEL]  # trains until killed
    p = subprocess.Popen(_cmd("train", "forecast", "--data", data, "--out", d, *args),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.time() + 120
        while not (d / "run.json").is_file() and time.time() < deadline:
            assert p.poll() is None, "training ended before it was killed"
            time.sleep(0.2)
        time.sleep(1.0)  # into training
        assert p.poll() is None
        os.kill(p.pid, signal.SIGKILL)
    finally:
        p.wait(30)
    m = _manifest(d)
    assert m["status"] == "training" and m["settings"]["max_steps"] == 1000000
    assert not (d / "model.safetensors").exists()
    before = _snapshot(d)
    _one_line_error(_rnnkit("resume", d), "did not finish", f"rnnkit resume {d} --overwrite")
    assert _snapshot(d) == before


def test_classify_cross_validation_run_directory_rules(tmp_path):
    data, d = _ucr_csv(tmp_path / "ucr.csv"), tmp_path / "run"
    r = _rnnkit("train", "classify", "--data", data, "--out", d, *CV)
    assert r.returncode == 0, r.stderr
    assert "selected:" in r.stdout
    m = _manifest(d)
    assert m["no_checkpoints"].startswith("model selection by cross-validation")
    # the user's settings, not the shape table's: a restart selects the architecture again
    assert m["settings"]["cv_folds"] == 2 and m["settings"]["pooling"] is None
    _resume_rules(d, "classify", "accuracy", killed=True)


@pytest.mark.slow
def test_a_checkpointed_run_is_not_affected(tmp_path):
    """--cv-folds 0 keeps checkpoints: its run.json has no no_checkpoints marker."""
    data, d = _ucr_csv(tmp_path / "ucr.csv"), tmp_path / "run"
    r = _rnnkit("train", "classify", "--data", data, "--out", d,
                *[a if a != "2" else "0" for a in CV[:-2]])
    assert r.returncode == 0, r.stderr
    assert "no_checkpoints" not in _manifest(d)
    assert (d / "checkpoints").is_dir()


def test_resume_help_states_the_overwrite_fix():
    import argparse

    from rnnkit.cli.main import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.option_strings[0]: a.help for a in sub.choices["resume"]._actions
             if a.option_strings}
    assert "default: refuse" in helps["--overwrite"]


def test_resume_with_overwrite_in_process(tmp_path):
    """The resume rules without a subprocess: --overwrite restarts only a run without
    checkpoints; on a checkpointed run it is an error naming it, never ignored."""
    from rnnkit.tasks.errors import UsageError
    from rnnkit.tasks.rundir import resume_settings

    d = tmp_path / "run"
    d.mkdir()
    m = {"format": "rnnkit-run", "task": "forecast", "status": "training",
         "settings": {"data": "x.csv", "max_steps": 7}}
    (d / "run.json").write_text(json.dumps(m))
    with pytest.raises(UsageError, match=r"^--overwrite: expected no --overwrite with --resume"):
        resume_settings(None, {"resume": str(d), "overwrite": True}, {})
    (d / "run.json").write_text(json.dumps({**m, "no_checkpoints": "the many-series forecaster"}))
    with pytest.raises(UsageError, match=r"^--resume: .*did not finish .*--overwrite"):
        resume_settings(None, {"resume": str(d)}, {})
    task, cfg, note = resume_settings(None, {"resume": str(d), "overwrite": True}, {})
    assert task == "forecast" and cfg["max_steps"] == 7 and cfg["overwrite"] is True
    assert cfg["resume"] is None and "again from the beginning" in note
