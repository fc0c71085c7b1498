"""The marketplace contract (contracts/marketplace-sync.yaml) as JSON Schema validators."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, FormatChecker

CONTRACT = Path(__file__).resolve().parent.parent / "contracts" / "marketplace-sync.yaml"
# What each outbox event kind sends as its body.
BODIES = {"seller.upsert": "Seller", "product.upsert": "Product"}


@cache
def contract() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(CONTRACT.read_text(encoding="utf-8"))
    return loaded


def validator(schema: str) -> Draft202012Validator:
    """A validator for one of the contract's schemas."""
    components = copy.deepcopy(contract()["components"])
    root = {"$ref": f"#/components/schemas/{schema}", "components": components}
    return Draft202012Validator(root, format_checker=FormatChecker())


def problems(kind: str, payload: dict[str, Any]) -> list[str]:
    """What in an outbox payload breaks the contract (empty when it fits)."""
    if kind not in BODIES:
        return []
    found = validator(BODIES[kind]).iter_errors(payload)
    return [f"{kind} {'/'.join(map(str, e.path))}: {e.message}" for e in found]
