"""The conversations stay readable: no function in flows/ above cyclomatic complexity 20."""

from __future__ import annotations

from pathlib import Path

import pytest
from radon.complexity import cc_visit

ROOT = Path(__file__).resolve().parent.parent
FLOWS = sorted(p.name for p in (ROOT / "flows").glob("*.py"))


@pytest.mark.parametrize("module", FLOWS)
def test_no_function_above_complexity_20(module: str) -> None:
    blocks = cc_visit((ROOT / "flows" / module).read_text(encoding="utf-8"))
    tangled = {b.fullname: b.complexity for b in blocks if b.complexity > 20}
    assert tangled == {}
