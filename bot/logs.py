"""Logging set-up: human text by default, one JSON object per line with LOG_FORMAT=json.

While an update is processed the inbox binds its `channel` and `update_id` (a contextvar, so
it follows the update into worker threads); every line logged meanwhile carries them. JSON
lines never carry an exception's message (it may quote a name, a number or SQL parameters):
only its type and the stack frames.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
_context: ContextVar[dict[str, str]] = ContextVar("pelapak_log_context", default={})  # noqa: B039


def bind(**fields: object) -> None:
    """Fields every log line carries from here on in this task (or thread)."""
    _context.set({**_context.get(), **{k: str(v) for k, v in fields.items()}})


def context() -> dict[str, str]:
    return dict(_context.get())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": _message(record),
            **_context.get(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            kind, _, tb = record.exc_info
            line["exc_type"] = kind.__qualname__
            line["traceback"] = "".join(traceback.format_tb(tb))
        return json.dumps(line, ensure_ascii=False, default=str)


def _message(record: logging.LogRecord) -> str:
    args = record.args
    if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
        _client, method, path, _version, status = args  # no client addresses in the logs
        return f"{method} {path} {status}"
    if record.name == "asyncio":  # "Task exception was never retrieved" + the exception's repr
        return record.getMessage().split("\n", 1)[0]
    return record.getMessage()


class AccessWithoutQuery(logging.Filter):
    """Access lines name the path only: a query string can hold what someone searched for
    (a shop or an owner's name on the dashboard), and the client's address is left out."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            _client, method, path, version, status = args
            record.args = ("-", method, str(path).split("?", 1)[0], version, status)
        return True


class _Ours(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler configure() installs, so a second call replaces it instead of adding one."""


def configure(log_format: str = "text", level: int = logging.INFO) -> None:
    """Route every log line to stderr in the chosen format (text or json).

    Leaves logging alone when someone else set up the root logger already (pytest does).
    """
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h, _Ours)]
    if root.handlers and not ours:
        return
    json_lines = log_format.strip().lower() == "json"
    handler = ours[0] if ours else _Ours(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT))
    if not ours:
        root.addHandler(handler)
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, AccessWithoutQuery) for f in access.filters):
        access.addFilter(AccessWithoutQuery())
    root.setLevel(level)
    logging.captureWarnings(json_lines)  # warnings become log lines instead of raw stderr
    # One line per HTTP call (with URLs that carry tokens) is noise, and a leak risk.
    logging.getLogger("httpx").setLevel(logging.WARNING)
