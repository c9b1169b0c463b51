"""The one exception for user mistakes, and the rule that tells them from bugs.

:class:`UsageError` is what library code raises when a *user* got something wrong (a flag, a
file, a row, a run directory). It subclasses ``ValueError`` so Python callers that catch
``ValueError`` keep working. The CLI prints its message as one line and exits with status 2.

Everything else is a bug and must surface as a traceback — except a ``ValueError`` /
``TypeError`` that rnnkit's own validation code raises on purpose (a ``raise`` statement in an
rnnkit module, e.g. a model config's ``__post_init__`` check): :func:`is_user_error` accepts
those too, so a ``TypeError`` from a wrong call or a ``ValueError`` from unpacking, ``int()`` or
inside torch / pandas is never dressed up as the user's fault.
"""

from __future__ import annotations

import linecache
from pathlib import Path

__all__ = ["UsageError", "is_user_error"]

_RNNKIT = str(Path(__file__).resolve().parents[1])


class UsageError(ValueError):
    """A user mistake: ``<where>: expected …, got …. <fix>.`` The CLI exits with status 2."""


def is_user_error(error: BaseException) -> bool:
    """True for :class:`UsageError`, and for a ``ValueError`` / ``TypeError`` raised by an
    explicit ``raise`` statement inside rnnkit (a deliberate check with a message for the
    user); False for anything raised implicitly or by another library (a bug)."""
    if isinstance(error, UsageError):
        return True
    if not isinstance(error, ValueError | TypeError):
        return False
    tb = error.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    path = str(Path(tb.tb_frame.f_code.co_filename).resolve())
    if not path.startswith(_RNNKIT):
        return False
    return linecache.getline(tb.tb_frame.f_code.co_filename, tb.tb_lineno).lstrip() \
        .startswith("raise ")
