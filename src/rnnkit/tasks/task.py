"""The task protocol and typed, frozen settings shared by every task.

A *task* is a module (``rnnkit.tasks.<name>``, listed in ``tasks.TASK_MODULES``) that provides::

    DEFAULTS: dict[str, Any]                    # its own settings' defaults (flag names, "_")
    add_arguments(group) -> None                # its argparse flags; every default None and
                                                # stated in the help ("default …")
    train(cfg: dict | Settings) -> int          # validate → make_out_dir → fit → write the run
    evaluate / predict / forecast / generate / explain(run_dir, args: dict) -> int

and, for the typed layer, a ``Settings`` class: a frozen dataclass that subclasses
:class:`CommonSettings` (data, out, seed, epochs, time budget, precision, device, model size…)
with the task's own fields. ``Settings.from_dict(cfg)`` checks every key and type and runs
``__post_init__`` — which raises :class:`~rnnkit.tasks.errors.UsageError` naming the flag — so a
task reads ``s.hidden_size`` (an ``int``), never ``cfg["hidden_size"]`` (maybe ``None``, maybe a
string from TOML). ``to_dict()`` is what ``run.json`` stores and ``--resume`` reads back.

Order inside ``train``: fill the task's data-dependent defaults, build ``Settings`` (all user
errors surface here, before anything is written), load data, build the model config, then
``common.make_out_dir`` (creates the run directory and writes ``run.json``), train, and write
results with ``save_weights`` / ``write_json`` / ``write_metrics``. The CLI wraps this in
:func:`rnnkit.tasks.rundir.session` (finish / clean-up), so a task needs nothing else for
resumable, checked run directories.

Example:
    >>> from rnnkit.tasks.tag import TagSettings
    >>> s = TagSettings.from_dict({"data": "kjv-case", "epochs": 2})
    >>> s.epochs, s.crf
    (2, False)
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

from rnnkit.tasks.errors import UsageError

__all__ = ["CommonSettings", "Task", "flag"]


def flag(name: str) -> str:
    """The CLI spelling of a setting: ``hidden_size`` → ``--hidden-size``."""
    return "--" + name.replace("_", "-")


@runtime_checkable
class Task(Protocol):
    """What the CLI needs of a task module (see the module docstring)."""

    DEFAULTS: dict[str, Any]

    def add_arguments(self, group: Any) -> None: ...

    def train(self, cfg: Any) -> int: ...


def _out_of_bounds(value: Any, lo: float | None, hi: float | None) -> str | None:
    """What ``value`` should be when it is a number outside ``[lo, hi]`` (or not finite)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    if math.isfinite(value) and (lo is None or value >= lo) and (hi is None or value <= hi):
        return None
    if hi is None:
        return f"a number >= {lo:g}" if lo is not None else "a finite number"
    return f"a number in [{lo:g}, {hi:g}]" if hi >= 1 or hi == 0 else f"a number in [{lo:g}, 1)"


_TYPES = {"int": int, "float": float, "bool": bool, "str": str}


@dataclass(frozen=True)
class CommonSettings:
    """The settings every task shares (flag ``--x-y`` ↔ field ``x_y``).

    Fields a task fills with its own default are typed ``X | None`` here and replaced before
    validation by the task (e.g. ``hidden_size`` 384 for lm, 128 for tag).
    """

    data: str | None = None
    test_data: str | None = None
    model: str = "lstm"
    epochs: int | None = None
    time_budget: float | None = None
    out: str | None = None
    resume: str | None = None
    overwrite: bool = False
    seed: int = 0
    quiet: bool = False
    batch_size: int | None = None
    lr: float | None = None
    hidden_size: int | None = None
    num_layers: int | None = None
    dropout: float | None = None
    bidirectional: bool | None = None
    layer_norm: bool | None = None
    precision: str = "fp32"
    device: str = "auto"

    # (low, high) inclusive bounds per numeric field; None: unbounded on that side.
    BOUNDS: ClassVar[dict[str, tuple[float | None, float | None]]] = {
        "epochs": (1, None), "time_budget": (0, None), "batch_size": (1, None),
        "lr": (0, None), "hidden_size": (1, None), "num_layers": (1, None),
        "dropout": (0, 0.999), "seed": (0, None)}
    CHOICES: ClassVar[dict[str, tuple[str, ...]]] = {
        "model": ("lstm", "gru", "rnn", "mingru", "minlstm"),
        "precision": ("fp32", "bf16", "fp16")}

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            self._check_type(f.name, value, str(hints[f.name]))
            want = _out_of_bounds(value, *self.BOUNDS.get(f.name, (None, None)))
            if want:
                raise UsageError(f"{flag(f.name)}: expected {want}, got {value!r}.")
            choices = self.CHOICES.get(f.name)
            if choices and value is not None and str(value).lower() not in choices:
                raise UsageError(f"{flag(f.name)}: expected one of {', '.join(choices)}, got "
                                 f"{value!r}.")

    @staticmethod
    def _check_type(name: str, value: Any, hint: str) -> None:
        allowed = [_TYPES[t.strip()] for t in hint.replace("typing.Optional[", "")
                   .replace("]", "").replace("<class '", "").replace("'>", "").split("|")
                   if t.strip() in _TYPES]
        if value is None:
            if "None" in hint:
                return
            raise UsageError(f"{flag(name)}: expected a value, got none.")
        if not allowed:
            return
        ok = any(isinstance(value, t) and not (t is not bool and isinstance(value, bool))
                 for t in allowed)
        if not ok and float in allowed and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            names = " or ".join("a number" if t is float else "an integer" if t is int
                                else f"a {t.__name__}" for t in allowed)
            raise UsageError(f"{flag(name)}: expected {names}, got {value!r}.")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self:
        """Build from a settings dict (flags, TOML, run.json); unknown keys are an error,
        ``None`` values take the field's default."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise UsageError(f"settings: expected keys among {sorted(names)}, got {unknown}. "
                             f"Remove them.")
        return cls(**{k: v for k, v in d.items() if v is not None})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> Self:
        return dataclasses.replace(self, **changes)
