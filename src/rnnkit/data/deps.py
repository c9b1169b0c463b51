"""Optional dependencies of the data layer: import lazily, fail with the install command.

rnnkit keeps ``import rnnkit`` light: pandas, statsmodels, scikit-learn and the dataset packages
are imported inside the functions that need them, through :func:`require`. A missing one raises
:class:`MissingDependencyError` (an ``ImportError``) whose message names the exact command.

Example:
    >>> np = require("numpy", "pip install numpy", "rnnkit.metrics")
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

__all__ = ["MissingDependencyError", "find_package_dir", "require"]


class MissingDependencyError(ImportError):
    """An optional package (or system tool) needed by a loader or baseline is not installed."""


def require(module: str, install: str, what: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming ``install``.

    Args:
        module: dotted module name, e.g. ``"statsmodels.tsa.holtwinters"``.
        install: the command that installs it, e.g. ``"pip install statsmodels"``.
        what: who needs it, used as the message prefix, e.g. ``"holt_winters"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{what}: expected the package '{module.split('.')[0]}', got ImportError ({exc}). "
            f"Install it with: {install}"
        ) from exc


def find_package_dir(package: str) -> Path | None:
    """Directory of an installed package, found without importing it (``None`` if absent).

    Used to locate data files shipped inside wheels (e.g. sktime's UCR ``.ts`` files) without
    paying for the package's import or its dependencies.
    """
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    if spec.origin:
        return Path(spec.origin).parent
    return None
