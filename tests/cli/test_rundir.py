"""Run directories a user can trust (issue 19), through the real ``rnnkit`` command.

Each test is one case a user meets: resume by directory (kill -9 included, bit-identical to an
uninterrupted run), no silent overwrite, no empty run directory after a config error, damaged
weights / checkpoints detected, OSError / broken pipe / bugs handled. A tiny character LM on a
generated text keeps every run to a few seconds. The cases that train twice or wait on a
signal are marked slow (run them with ``-m slow``); the damaged-checkpoint fallback is also
covered in-process by tests/training/test_checkpoint.py.
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TINY = ["--hidden-size", "8", "--embedding-dim", "4", "--seq-len", "16", "--batch-size", "4",
        "--quiet"]


def _rnnkit(*args, timeout=180, **kw):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "rnnkit", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=env, **kw)


def _one_line_error(r, *needles):
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("rnnkit: error:")]
    assert len(lines) == 1, r.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    rng = random.Random(0)
    words = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "and",
             "runs", "far", "from", "home"]
    path = tmp_path_factory.mktemp("data") / "tiny.txt"
    path.write_text("\n".join(" ".join(rng.choice(words) for _ in range(8))
                              for _ in range(120)), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory, text):
    """A finished 2-epoch run (copy it before damaging anything)."""
    out = tmp_path_factory.mktemp("runs") / "lm"
    r = _rnnkit("train", "lm", "--data", text, "--out", out, "--epochs", 2, *TINY)
    assert r.returncode == 0, r.stderr
    return out


def _copy(run, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(run, dst)
    return dst


# ---- 1. the run directory is the unit ---------------------------------------------------------


def test_settings_are_written_and_the_stop_reason_is_printed(run, text):
    m = json.loads((run / "run.json").read_text())
    assert m["task"] == "lm" and m["status"] == "finished"
    assert m["settings"]["hidden_size"] == 8 and m["settings"]["data"] == str(text.resolve())
    assert m["stop_reason"] == "all 2 epochs done"


def test_kill_9_then_resume_with_no_other_flag_is_bit_identical(tmp_path, text):
    args = ["--data", text, "--epochs", 4, *TINY]
    full = tmp_path / "full"
    assert _rnnkit("train", "lm", *args, "--out", full).returncode == 0
    part = tmp_path / "part"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "rnnkit", "train", "lm",
                             *map(str, args), "--out", str(part)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (part / "checkpoints" / "latest").is_file():
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (part / "run.json").is_file(), "settings must exist before training ends"
    assert not (part / "metrics.json").exists(), "the run finished before it could be killed"
    assert json.loads((part / "run.json").read_text())["status"] == "training"
    r = _rnnkit("train", "lm", "--resume", part)
    assert r.returncode == 0, r.stderr
    assert (part / "model.safetensors").read_bytes() == (full / "model.safetensors").read_bytes()
    assert json.loads((part / "run.json").read_text())["status"] == "finished"


@pytest.mark.slow
def test_resume_command_and_extending_a_finished_run(run, tmp_path):
    d = _copy(run, tmp_path)
    before = (d / "model.safetensors").read_bytes()
    r = _rnnkit("resume", d)
    assert r.returncode == 0 and "already finished" in r.stderr, r.stderr
    assert (d / "model.safetensors").read_bytes() == before
    r = _rnnkit("resume", d, "--epochs", 3, "--quiet")
    assert r.returncode == 0, r.stderr
    assert "all 3 epochs done" in r.stdout
    assert (d / "model.safetensors").read_bytes() != before


def test_a_conflicting_flag_on_resume_is_named(run, tmp_path):
    d = _copy(run, tmp_path)
    _one_line_error(_rnnkit("train", "lm", "--resume", d, "--hidden-size", 16), "--hidden-size",
                    "16")
    _one_line_error(_rnnkit("train", "classify", "--resume", d), "expected a classify run")
    _one_line_error(_rnnkit("train", "lm", "--resume", tmp_path / "nothing"), "--resume")
    # the same value as the run's is not a conflict
    r = _rnnkit("train", "lm", "--resume", d, "--hidden-size", 8)
    assert r.returncode == 0 and "already finished" in r.stderr


@pytest.mark.slow
def test_a_damaged_latest_checkpoint_falls_back_with_a_warning(run, tmp_path):
    d = _copy(run, tmp_path)
    root = d / "checkpoints"
    latest = root / (root / "latest").read_text().strip()
    (latest / "model.safetensors").write_bytes(b"garbage")
    (root / ".tmp-epoch0009-batch000000-99999").mkdir()  # a writer killed mid-checkpoint
    r = _rnnkit("resume", d, "--epochs", 3, "--quiet")
    assert r.returncode == 0, r.stderr
    assert "rnnkit: warning:" in r.stderr and "previous complete one" in r.stderr
    assert not (root / ".tmp-epoch0009-batch000000-99999").exists()


# ---- 2. nothing replaced or mixed silently ---------------------------------------------------


def test_an_existing_run_is_refused_and_overwrite_replaces_it(run, tmp_path, text):
    d = _copy(run, tmp_path)
    before = (d / "model.safetensors").read_bytes()
    _one_line_error(_rnnkit("train", "lm", "--data", text, "--out", d, "--epochs", 1, *TINY),
                    "--overwrite", "--resume")
    assert (d / "model.safetensors").read_bytes() == before
    r = _rnnkit("train", "lm", "--data", text, "--out", d, "--epochs", 1, "--seed", 1, *TINY,
                "--overwrite")
    assert r.returncode == 0, r.stderr
    assert json.loads((d / "run.json").read_text())["settings"]["seed"] == 1


def test_a_folder_of_other_files_is_never_written_into(tmp_path, text):
    d = tmp_path / "mine"
    d.mkdir()
    (d / "notes.txt").write_text("mine")
    for extra in ([], ["--overwrite"]):
        _one_line_error(_rnnkit("train", "lm", "--data", text, "--out", d, "--epochs", 1, *TINY,
                                *extra), "other files")
    assert sorted(p.name for p in d.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize("bad", [["--epochs", "0"], ["--precision", "fp16"]],
                         ids=["before-open", "after-open"])
def test_a_config_error_leaves_no_run_directory(tmp_path, text, bad):
    d = tmp_path / "new"
    _one_line_error(_rnnkit("train", "lm", "--data", text, "--out", d, *TINY, *bad))
    assert not d.exists()


# ---- 4. integrity ----------------------------------------------------------------------------


def _flip(path: Path, at: int) -> None:
    b = bytearray(path.read_bytes())
    b[at] ^= 0xFF
    path.write_bytes(bytes(b))


@pytest.mark.parametrize("damage", ["flipped", "truncated", "pickled", "hidden-size"])
def test_a_damaged_model_is_a_one_line_error(run, tmp_path, damage):
    d = _copy(run, tmp_path)
    w = d / "model.safetensors"
    if damage == "flipped":
        _flip(w, w.stat().st_size - 3)
        needle = "checksum"
    elif damage == "truncated":
        w.write_bytes(w.read_bytes()[:100])
        m = json.loads((d / "run.json").read_text())
        m["weights_sha256"] = None  # even without the record, a truncated file is caught
        (d / "run.json").write_text(json.dumps(m))
        needle = "truncated"
    elif damage == "pickled":
        import torch

        torch.save({"x": torch.zeros(2)}, w)
        needle = "pickle"
    else:
        cfg = json.loads((d / "config.json").read_text())
        cfg["model"]["hidden_size"] = 12
        (d / "config.json").write_text(json.dumps(cfg))
        m = json.loads((d / "run.json").read_text())
        edited = _rnnkit("evaluate", d)
        _one_line_error(edited, "config.json", "edited")
        m["config_sha256"] = None  # without the record, the shapes still do not match
        (d / "run.json").write_text(json.dumps(m))
        needle = "expected config.json's model to match"
    for cmd in (["evaluate", d], ["generate", d, "--length", "5"]):
        _one_line_error(_rnnkit(*cmd), needle)


# ---- 5. one line, exit 2, nothing half-written -----------------------------------------------


def test_an_unwritable_out_is_one_line_before_training(tmp_path, text):
    r = _rnnkit("train", "lm", "--data", text, "--out", "/sys/rnnkit-run", "--epochs", 50, *TINY)
    _one_line_error(r, "/sys/rnnkit-run", "--out")


@pytest.mark.slow
def test_a_closed_pipe_stops_quietly_and_the_run_is_complete(tmp_path, text):
    d = tmp_path / "piped"
    cmd = (f"{sys.executable} -m rnnkit train lm --data {text} --out {d} --epochs 1 "
           f"{' '.join(TINY)} | head -c 1")
    r = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True,
                       timeout=180, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr and "BrokenPipe" not in r.stderr, r.stderr
    assert json.loads((d / "metrics.json").read_text())["task"] == "lm"
    assert json.loads((d / "run.json").read_text())["status"] == "finished"


def test_user_errors_and_bugs_are_told_apart():
    from rnnkit.models.language_model import LanguageModelConfig
    from rnnkit.tasks.errors import UsageError, is_user_error

    def caught(fn):
        try:
            fn()
        except Exception as e:
            return e
        raise AssertionError("no error")

    assert is_user_error(UsageError("x"))
    assert is_user_error(caught(lambda: LanguageModelConfig(vocab_size=0)))  # a deliberate check
    assert not is_user_error(caught(lambda: int("abc")))  # implicit ValueError: a bug
    assert not is_user_error(caught(lambda: len(1)))  # TypeError from a wrong call: a bug
    import torch

    assert not is_user_error(caught(lambda: torch.zeros(2).view(3)))  # inside torch


@pytest.mark.slow
def test_ctrl_c_marks_the_run_interrupted_and_says_how_to_resume(tmp_path, text):
    d = tmp_path / "int"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "rnnkit", "train", "lm", "--data", str(text),
                             "--out", str(d), "--epochs", "200", *TINY], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (d / "checkpoints" / "latest").is_file():
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert f"rnnkit resume {d}" in err and "Traceback" not in err
    assert json.loads((d / "run.json").read_text())["status"] == "interrupted"


@pytest.mark.slow
def test_forecast_resume_by_directory(tmp_path):
    """Issue 19: forecast's documented '--resume DIR' used to fail (only --resume
    DIR/checkpoints --out DIR worked)."""
    d = tmp_path / "fc"
    common = ["--hidden-size", "8", "--quiet", "--no-baselines"]
    r = _rnnkit("train", "forecast", "--data", "airline", "--out", d, "--epochs", 1, *common)
    assert r.returncode == 0, r.stderr
    r = _rnnkit("train", "forecast", "--resume", d, "--epochs", 2)
    assert r.returncode == 0, r.stderr
    assert len(json.loads((d / "history.json").read_text())) == 2
    assert not (d / "checkpoints" / "checkpoints").exists()


def test_every_flag_states_its_default():
    """Every flag of every command, the task groups of ``train forecast`` / ``train classify``
    included, says what happens when it is left out."""
    import argparse

    from rnnkit.cli.main import build_parser

    missing = []

    def walk(parser, name):
        for a in parser._actions:
            if isinstance(a, argparse._SubParsersAction):
                for n, sp in a.choices.items():
                    walk(sp, f"{name} {n}")
                continue
            if a.option_strings and a.dest != "help" and "default" not in (a.help or ""):
                missing.append(f"{name} {a.option_strings[0]}")

    parser = build_parser()
    walk(parser, "rnnkit")
    assert not missing, missing
    # the walk reaches the task groups (a test that cannot fail is a defect)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    train = next(a for a in sub.choices["train"]._actions
                 if isinstance(a, argparse._SubParsersAction))
    for task, opt in (("forecast", "--fillna"), ("classify", "--cv-folds")):
        assert any(opt in a.option_strings for a in train.choices[task]._actions), task


def test_a_bug_keeps_its_traceback_and_a_user_error_is_one_line(monkeypatch, capsys):
    """In-process: the CLI maps UsageError / OSError to exit 2, but re-raises a bug."""
    import errno

    from rnnkit.cli import commands, main
    from rnnkit.tasks.errors import UsageError

    monkeypatch.setattr(sys, "stdout", sys.stdout)  # main() wraps them; restore afterwards
    monkeypatch.setattr(sys, "stderr", sys.stderr)

    def bug(task, given):
        return int("not a number")

    monkeypatch.setattr(commands, "_train", bug)
    with pytest.raises(ValueError, match="invalid literal"):
        main.main(["train", "lm"])

    def user(task, given):
        raise UsageError("--data: expected x, got y. Do z.")

    monkeypatch.setattr(commands, "_train", user)
    assert main.main(["train", "lm"]) == 2
    assert capsys.readouterr().err.strip() == "rnnkit: error: --data: expected x, got y. Do z."

    def full(task, given):
        raise OSError(errno.ENOSPC, "No space left on device", "/runs/x/run.json")

    monkeypatch.setattr(commands, "_train", full)
    assert main.main(["train", "lm"]) == 2
    assert capsys.readouterr().err.strip() == ("rnnkit: error: /runs/x/run.json: No space left "
                                               "on device. Free some space or choose another "
                                               "--out.")


def test_a_forecast_config_error_leaves_no_run_directory(tmp_path):
    """The issue's case: forecast left an empty run directory on every config error."""
    d = tmp_path / "fc"
    _one_line_error(_rnnkit("train", "forecast", "--data", "airline", "--out", d, "--epochs", 1,
                            "--precision", "fp16", "--device", "cpu", "--quiet"), "fp16")
    assert not d.exists()
