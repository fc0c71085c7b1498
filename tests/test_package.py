"""The installed package runs on its own: a wheel built from the tracked files (no compiled
catalogs, as on a fresh clone) migrates a database and talks, from another directory."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = tmp_path_factory.mktemp("source")
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout.decode()
    for name in filter(None, tracked.split("\0")):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    build = ["wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(source)]
    subprocess.run(
        [sys.executable, "-m", "pip", *build],
        check=True,
        capture_output=True,
    )
    [built] = out.glob("pelapak-*.whl")
    return built


def test_the_wheel_carries_what_the_bot_reads(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "locales/id/LC_MESSAGES/messages.po",
        "locales/en/LC_MESSAGES/messages.po",
        "locales/id/lexicon.toml",
        "locales/en/lexicon.toml",
        "flows/data/categories.csv",
        "flows/data/wilayah/regencies.csv",
        "flows/data/wilayah/LICENSE",
        "bot/storage/migrations/env.py",
    ):
        assert needed in names, needed
    assert any(n.startswith("bot/storage/migrations/versions/0008") for n in names)
    assert not any(n.endswith(".mo") for n in names)  # built from a clean tree: compiled later


@pytest.mark.slow
def test_installed_package_migrates_and_talks_from_anywhere(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(site),
        "DATABASE_URL": f"sqlite:///{elsewhere / 'pelapak.db'}",
        "MEDIA_DIR": str(elsewhere / "media"),
    }

    def pelapak(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        code = "import sys; from bot.cli import app; app(sys.argv[1:])"
        return subprocess.run(
            [sys.executable, "-c", code, *args],
            cwd=elsewhere,
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )

    where = subprocess.run(
        [sys.executable, "-c", "import bot, flows; print(bot.__file__, flows.__file__)"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
    )
    assert where.stdout.count(str(site)) == 2  # the installed copy, not the checkout
    upgraded = pelapak("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr[-2000:]
    chat = pelapak("chat", "--as", "+6281234567890", "--jsonl", stdin='{"text": "/start"}\n')
    assert chat.returncode == 0, chat.stderr[-2000:]
    [line] = chat.stdout.splitlines()
    texts = [reply["text"] for reply in json.loads(line)["replies"]]
    assert texts[0].startswith("Halo Kak")  # the Indonesian catalog, compiled from its .po
    assert "Setuju?" in texts[-1]
