"""Messages longer than a platform allows, split where a reader expects a break."""

from __future__ import annotations


def split_text(text: str, limit: int) -> list[str]:
    """Split at line breaks (or hard, when a line is longer) into parts of at most `limit`."""
    parts: list[str] = []
    while len(text) > limit:
        cut = text.rfind("\n", 0, limit)
        cut = cut if cut > 0 else limit
        parts.append(text[:cut])
        text = text[cut:].lstrip("\n")
    return [*parts, text] if text else parts
