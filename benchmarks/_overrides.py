"""``--set KEY=VALUE`` overrides shared by the benchmark scripts (values parsed as JSON, else
kept as strings)."""

from __future__ import annotations

import json
from typing import Any


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``["epochs=80", "pooling=attention"]`` -> ``{"epochs": 80, "pooling": "attention"}``."""
    extra: dict[str, Any] = {}
    for kv in pairs:
        k, _, v = kv.partition("=")
        try:
            extra[k] = json.loads(v)
        except json.JSONDecodeError:
            extra[k] = v
    return extra
