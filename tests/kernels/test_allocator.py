"""kernels/allocator.py: the glibc malloc tuning the rnnkit command applies to its process."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rnnkit.cli import main as cli_main
from rnnkit.kernels import allocator


def _run(code: str, **env) -> str:
    import os

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, **env}, check=True)
    return out.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt")
def test_retain_freed_memory_applies_once_and_can_be_switched_off():
    code = ("from rnnkit.kernels.allocator import retain_freed_memory as r; "
            "print(r(), r())")
    assert _run(code) == "True True"
    assert _run(code, RNNKIT_RETAIN_MEMORY="0") == "False False"


def test_the_rnnkit_command_applies_it(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(cli_main, "retain_freed_memory", lambda: calls.append(1) or True)
    cli_main.main(["datasets"])
    assert calls == [1]
    assert allocator.retain_freed_memory.__doc__
