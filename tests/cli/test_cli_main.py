"""The top-level ``rnnkit`` command: help texts, datasets, benchmark argument hand-off."""

import subprocess
import sys


def _rnnkit(*args):
    return subprocess.run([sys.executable, "-m", "rnnkit", *args], capture_output=True,
                          text=True, timeout=120)


def test_help_lists_every_command():
    r = _rnnkit("--help")
    assert r.returncode == 0
    for cmd in ("train", "evaluate", "predict", "forecast", "generate", "explain", "datasets",
                "bench", "demo"):
        assert cmd in r.stdout


def test_bench_passes_its_own_options_through():
    r = _rnnkit("bench", "--help")
    assert r.returncode == 0, r.stderr
    assert "--shapes" in r.stdout
    r = _rnnkit("bench", "parallel", "--help")
    assert r.returncode == 0, r.stderr
    assert "--quick" in r.stdout and "--clock" in r.stdout
    r = _rnnkit("bench", "parallel", "--threads", "-1")
    assert r.returncode == 2 and "--threads: expected 0" in r.stderr


def test_datasets_lists_the_builtin_data():
    r = _rnnkit("datasets")
    assert r.returncode == 0, r.stderr
    for name in ("airline", "GunPoint", "finefoods", "kjv"):
        assert name.lower() in r.stdout.lower()


def test_unknown_command_is_a_usage_error():
    r = _rnnkit("trian")
    assert r.returncode == 2 and "invalid choice" in r.stderr
