"""One resolver of ``--data`` / ``--test-data`` values: a built-in dataset name or a file.

The rule, decided once for every task: a value names a *file* when it exists, contains a path
separator, or has a file suffix (``.csv``, ``.ts``, ``.txt``, ``.conll`` …); otherwise it is a
built-in dataset name (``rnnkit datasets``; no built-in name contains a dot or a slash).

Example:
    >>> resolve_source("airline").kind
    'builtin'
    >>> is_path("data/sales.csv")
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rnnkit.tasks.errors import UsageError

__all__ = ["Source", "is_path", "resolve_source"]


def is_path(data: str) -> bool:
    """Whether ``data`` names a file rather than a built-in dataset (see the module rule)."""
    s = str(data)
    return Path(s).exists() or "/" in s or "\\" in s or Path(s).suffix != ""


@dataclass(frozen=True)
class Source:
    """A resolved data source: ``kind`` is ``"file"`` (``path`` absolute) or ``"builtin"``
    (``name`` canonical)."""

    kind: str
    name: str
    path: Path | None = None

    def __str__(self) -> str:
        return str(self.path) if self.path is not None else self.name


def resolve_source(data: str | None, flag: str = "--data") -> Source:
    """Resolve ``data``; a missing file or an unknown name is a one-line :class:`UsageError`
    naming ``flag`` (with the closest built-in names)."""
    from rnnkit.data.registry import get_dataset_info

    if data is None or str(data).strip() == "":
        raise UsageError(f"{flag}: expected a built-in dataset name or a file, got nothing. "
                         f"See 'rnnkit datasets'.")
    s = str(data)
    if is_path(s):
        p = Path(s)
        if not p.is_file():
            what = "a folder" if p.is_dir() else "no such file"
            raise UsageError(f"{flag}: expected a data file, got '{s}' ({what}). Check the path "
                             f"(or see 'rnnkit datasets' for built-in names).")
        return Source("file", p.stem, p.resolve())
    try:
        info = get_dataset_info(s)
    except ValueError as e:
        raise UsageError(f"{flag}: {e}") from None
    return Source("builtin", info.name)
