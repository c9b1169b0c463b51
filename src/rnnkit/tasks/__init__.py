"""Task pipelines: data → model → trainer → metrics beside honest baselines → files.

Each task module (``forecast``, ``classify``, ``lm``) exposes ``DEFAULTS`` (its config keys),
``add_arguments(parser)``, ``train(cfg)``, ``evaluate(run_dir, cfg)`` and ``predict(run_dir,
cfg)``; the CLI is a thin layer over them.
"""

TASK_MODULES = {
    "forecast": "rnnkit.tasks.forecast",
    "classify": "rnnkit.tasks.classify",
    "lm": "rnnkit.tasks.lm",
    "seq2seq": "rnnkit.tasks.seq2seq",
    "tag": "rnnkit.tasks.tag",
}

__all__ = ["TASK_MODULES"]
