"""What each CLI command does, given parsed arguments."""

from __future__ import annotations

import argparse
import importlib
from typing import Any

from rnnkit.tasks.common import CLIError, read_run
from rnnkit.training.checkpoint import CheckpointError

__all__ = ["TASK_HELP", "USER_ERROR_TYPES", "add_task_arguments", "run"]

TASK_HELP = {
    "forecast": "time-series forecasting (default data: airline)",
    "classify": "sequence / sensor / text classification",
    "lm": "character- or word-level language model (default data: kjv)",
    "seq2seq": "sequence-to-sequence with attention (default data: cmudict G2P)",
    "tag": "sequence labelling, BiLSTM(-CRF) tagger on CoNLL files (default data: kjv-case)",
}


# Errors that carry a user-facing one-line message (MissingDependencyError is an ImportError).
# CheckpointError: a corrupt or partial checkpoint given to --resume.
USER_ERROR_TYPES = (CLIError, ValueError, FileNotFoundError, ImportError, TypeError,
                    CheckpointError)


def _module(task: str):
    from rnnkit.tasks import TASK_MODULES

    if task not in TASK_MODULES:
        raise CLIError(f"expected a task in {list(TASK_MODULES)}, got {task!r}.")
    return importlib.import_module(TASK_MODULES[task])


def add_task_arguments(task: str, group: argparse._ArgumentGroup) -> None:
    _module(task).add_arguments(group)


def _args_dict(args: argparse.Namespace) -> dict[str, Any]:
    return {k: v for k, v in vars(args).items() if k not in ("command", "task", "debug")}


def run(args: argparse.Namespace) -> int:
    cmd = args.command
    if cmd == "train":
        mod = _module(args.task)
        from rnnkit.tasks.common import resolve_config

        cfg = resolve_config(mod.DEFAULTS, _args_dict(args))
        return mod.train(cfg)
    if cmd == "demo":
        mod = _module("forecast")
        from rnnkit.tasks.common import resolve_config

        cfg = resolve_config(mod.DEFAULTS, {"data": "airline", "out": "runs/demo-airline"})
        return mod.train(cfg)
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
        if fn is None:
            raise CLIError(f"{cmd}: expected a run of a task that supports it, got a "
                           f"'{run_cfg.get('task')}' run in {args.run_dir}.")
        return fn(args.run_dir, _args_dict(args))
    if cmd == "datasets":
        from rnnkit.data import format_datasets

        print(format_datasets(args.task))
        return 0
    if cmd == "bench":
        return _bench(args.bench_args)
    raise CLIError(f"unknown command {cmd!r}")  # argparse prevents this


def _bench(argv: list[str]) -> int:
    """``rnnkit bench [engine|parallel] [ARGS]`` (default: engine)."""
    which = argv[0] if argv and argv[0] in ("engine", "parallel") else "engine"
    rest = argv[1:] if argv and argv[0] in ("engine", "parallel") else argv
    mod = importlib.import_module(f"rnnkit.bench.{which}")
    return int(mod.main(rest) or 0)

