"""``DictConfig``: the JSON round trip shared by the task models' config dataclasses.

A run directory stores a model's config as JSON (``config.json``, never pickle); loading it
back keeps only the dataclass's own fields, so a run written by a version with an extra
setting still loads (the setting is dropped, its default applies).
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["DictConfig"]


class DictConfig:
    """Mixin for ``@dataclass`` configs: ``to_dict()``, ``from_dict(d)`` and ``_require``."""

    def _require(self, cond: bool, msg: str) -> None:
        """Validation in ``__post_init__``: ``ValueError("<ConfigName>: <msg>")`` unless cond."""
        if not cond:
            raise ValueError(f"{type(self).__name__}: {msg}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, d: dict[str, Any]):
        """The config from ``to_dict()``'s output; keys that are not fields are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in d.items() if k in names})
