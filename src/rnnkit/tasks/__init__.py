"""Task pipelines: data → model → trainer → metrics beside honest baselines → files.

Each task module (``forecast``, ``classify``, ``lm``, ``seq2seq``, ``tag``) follows the
protocol written out in :mod:`rnnkit.tasks.task`: ``DEFAULTS`` (its config keys),
``add_arguments(group)``, ``train(cfg)`` and ``evaluate / predict / forecast / generate /
explain(run_dir, args)``, with a frozen typed settings class. Run directories (settings before
training, resume, checksums, clean-up) are :mod:`rnnkit.tasks.rundir`; user errors are
:class:`rnnkit.tasks.errors.UsageError`; ``--data`` goes through :mod:`rnnkit.tasks.sources`.
The CLI is a thin layer over them.
"""

TASK_MODULES = {
    "forecast": "rnnkit.tasks.forecast",
    "classify": "rnnkit.tasks.classify",
    "lm": "rnnkit.tasks.lm",
    "seq2seq": "rnnkit.tasks.seq2seq",
    "tag": "rnnkit.tasks.tag",
}

__all__ = ["TASK_MODULES"]
