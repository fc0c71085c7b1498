"""Readiness checks, shared by /health/ready and `pelapak doctor`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import col

from bot.storage.database import Database, current_revisions, head_revisions
from bot.storage.models import InboundUpdate


@dataclass
class Readiness:
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def failed(self) -> list[str]:
        return [name for name, check in self.checks.items() if check["ok"] is False]

    @property
    def ok(self) -> bool:
        return not self.failed

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "failed": self.failed, "checks": self.checks}


def readiness(db: Database, max_backlog: int) -> Readiness:
    """Database answers, schema at head, inbox backlog under the limit. Reads only."""
    found = Readiness()
    skipped = {"ok": None, "detail": "not checked"}
    try:
        # read_only: on SQLite the probe does not queue for the write lock.
        with db.engine.execution_options(read_only=True).connect() as conn:
            conn.exec_driver_sql("SELECT 1")
            found.checks["database"] = {"ok": True}
            current, head = current_revisions(conn), head_revisions()
            found.checks["migrations"] = {
                "ok": current == head,
                "current": list(current),
                "head": list(head),
            }
            if current != head:
                found.checks["backlog"] = dict(skipped)
                return found
            count = conn.execute(
                sa.select(sa.func.count())
                .select_from(InboundUpdate)
                .where(col(InboundUpdate.processed_at).is_(None))
            ).scalar_one()
            found.checks["backlog"] = {
                "ok": count < max_backlog,
                "count": count,
                "limit": max_backlog,
            }
    except sa.exc.SQLAlchemyError as exc:
        names = ("database", "migrations", "backlog")
        failing = next(n for n in names if n not in found.checks)
        found.checks[failing] = {"ok": False, "detail": type(exc).__name__}
        for name in names:
            found.checks.setdefault(name, dict(skipped))
    return found
