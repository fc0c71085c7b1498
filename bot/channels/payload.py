"""Shared checks for webhook payloads before they are stored."""

from __future__ import annotations

import math
from typing import Any

MAX_DEPTH = 32  # real updates nest fewer than 10 levels


class Malformed(ValueError):
    """Not something the platform would send; the text says what, never the values."""


def check_storable(value: Any) -> None:
    """Nesting depth, finite numbers, and text PostgreSQL can store (no NUL, no lone surrogate)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise Malformed("nested too deep")
        if isinstance(item, dict):
            for key, inner in item.items():
                _text(key)
                stack.append((inner, depth + 1))
        elif isinstance(item, list):
            stack.extend((inner, depth + 1) for inner in item)
        elif isinstance(item, str):
            _text(item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise Malformed("a number out of range")


def _text(value: str) -> None:
    if "\x00" in value:
        raise Malformed("a NUL character in text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Malformed("text that is not valid Unicode") from None
