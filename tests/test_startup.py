"""What a `pelapak` command loads before doing its work, and the schema check every one makes.

Each command imports what it uses: the ones that never chat do not load the flows, the
ones that find the schema at its newest migration do not load alembic. Checked by the
modules a fresh process holds when it exits (bench/startup.py measures the CPU). The garbage
collector, paused while a command loads the application, runs again once it has.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory

from bot.app import App
from bot.storage.database import _alembic_config, revision_heads, shipped_heads

ROOT = Path(__file__).resolve().parent.parent

# `pelapak ARGS` as the console script runs it; written to stderr as the process exits: the
# modules it loaded among those a command may not need, and whether the collector runs.
REPORT = (
    "import atexit, gc, json, sys\n"
    "watched = {watched!r}\n"
    "atexit.register(lambda: print(json.dumps({{"
    "'modules': sorted(m for m in watched if m in sys.modules), 'collecting': gc.isenabled()"
    "}}), file=sys.stderr))\n"
    "sys.argv[0] = 'pelapak'\n"
    "from bot.cli import main\n"
    "main()\n"
)
WATCHED = (
    "alembic",
    "bot.app",
    "bot.config",
    "bot.conversation",
    "bot.storage.models",
    "flows.engine",
    "flows.registration",
    "sqlalchemy",
    "twilio",
)


def report(*args: str, **env: str) -> dict[str, Any]:
    """What `pelapak ARGS` loaded, run in a process of its own, and whether it collects."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "TWILIO_", "MARKETPLACE_", "PUBLIC_BASE_URL"))
    }
    done = subprocess.run(
        [sys.executable, "-c", REPORT.format(watched=WATCHED), *args],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    # 1: `pelapak doctor` found a problem (no platform is configured here)
    assert done.returncode in (0, 1) and "Traceback" not in done.stderr, done.stderr[-2000:]
    found: dict[str, Any] = json.loads(done.stderr.strip().splitlines()[-1])
    return found


def loaded(*args: str, **env: str) -> set[str]:
    """The watched modules `pelapak ARGS` loaded."""
    return set(report(*args, **env)["modules"])


def test_help_loads_neither_the_settings_nor_the_database() -> None:
    for args in (["--help"], ["import", "--help"], ["unggulan", "--help"]):
        assert loaded(*args) == set(), args


@pytest.mark.any_backend
def test_commands_that_never_chat_load_no_flows(app: App) -> None:
    env = {"DATABASE_URL": app.settings.database_url, "MEDIA_DIR": str(app.settings.media_dir)}
    # at the newest migration already: the version table is read, alembic is not loaded
    assert loaded("db", "upgrade", **env) == {
        "bot.app",
        "bot.config",
        "bot.storage.models",  # the photo store's table
        "sqlalchemy",
    }
    for args in (["broadcast", "status"], ["worker", "--once"]):
        modules = loaded(*args, **env, MARKETPLACE_API_URL="http://127.0.0.1:9/")
        assert not modules & {"alembic", "bot.conversation", "flows.engine"}, args
    # the tables through bot.notices (its list of the notices that need a template)
    assert loaded("doctor", **env) == {"bot.config", "bot.storage.models", "sqlalchemy"}


def test_chat_still_loads_the_conversations(app: App) -> None:
    env = {"DATABASE_URL": app.settings.database_url, "MEDIA_DIR": str(app.settings.media_dir)}
    assert {"bot.conversation", "flows.engine"} <= loaded("chat", "--jsonl", **env)


def test_the_collector_runs_again_once_a_command_has_started(app: App) -> None:
    env = {"DATABASE_URL": app.settings.database_url, "MEDIA_DIR": str(app.settings.media_dir)}
    commands = (
        ["chat", "--jsonl"],
        ["db", "upgrade"],
        ["broadcast", "status"],
        ["doctor"],
        ["unggulan", "unknown"],
    )
    for args in commands:
        assert report(*args, **env)["collecting"] is True, args


def test_the_heads_read_from_the_scripts_are_alembics() -> None:
    alembic_heads = ScriptDirectory.from_config(_alembic_config()).get_heads()
    assert shipped_heads() == frozenset(alembic_heads)


def script(folder: Path, revision: str, down: str | tuple[str, ...] | None) -> None:
    (folder / f"{revision}_step.py").write_text(
        f'"""step {revision}"""\n\n'
        f"revision: str = {revision!r}\n"
        f"down_revision = {down!r}\n"
        "branch_labels = None\n\n\n"
        "def upgrade() -> None:\n    pass\n"
    )


def test_heads_of_branches_and_merges(tmp_path: Path) -> None:
    script(tmp_path, "a", None)
    script(tmp_path, "b", "a")
    script(tmp_path, "c", "a")
    assert revision_heads(tmp_path) == {"b", "c"}
    script(tmp_path, "d", ("b", "c"))  # a merge
    assert revision_heads(tmp_path) == {"d"}
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "notes.txt").write_text("revision = 'x'")
    assert revision_heads(tmp_path) == {"d"}


def test_a_script_without_literal_revisions_is_read_by_alembic(tmp_path: Path) -> None:
    script(tmp_path, "a", None)
    (tmp_path / "b_step.py").write_text(
        'PREFIX = "b"\nrevision = PREFIX + "1"\ndown_revision = "a"\n\n\n'
        "def upgrade() -> None:\n    pass\n"
    )
    assert revision_heads(tmp_path) == {"b1"}


def test_the_web_server_loads_twilio_and_the_contract_checker_when_used() -> None:
    """A bot on Telegram only never loads twilio; jsonschema and yaml wait for the first
    batch of marketplace events."""
    code = (
        "import json, sys, bot.server\n"
        "print(json.dumps(sorted(m for m in ('twilio', 'jsonschema', 'yaml') if m in sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == []
