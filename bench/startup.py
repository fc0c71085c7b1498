"""CPU each `pelapak` command pays to start, the way the tests and operators run them.

Run by hand: `.venv/bin/python bench/startup.py [--runs 5] [--only doctor ...]`.

Each command runs `--runs` times as `python -m bot.cli ...` (what the tests start) on its own
copy of an upgraded SQLite database, with no platform settings from this environment. Printed
per command: the median user and system CPU seconds of the process (from wait4, the figures
`/usr/bin/time -f "%U %S"` prints) and the median of their sum. `run` is measured until its
/health/live answers (read from /proc, then the process is stopped); `chat --jsonl` answers one
line ("halo") and exits at the end of its input. There is no assertion on time: compare the
figures before and after a change back to back (other processes' load raises CPU time too,
through the caches and cores they share), e.g. with the old code checked out into bot/:
`git checkout OLD -- bot; python bench/startup.py; git checkout HEAD -- bot`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_telegram import TOKEN, FakeTelegram  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Command:
    name: str
    args: tuple[str, ...]
    stdin: bytes = b""
    env: tuple[tuple[str, str], ...] = ()
    serves: bool = False  # runs until stopped: measured until /health/live answers
    exits: tuple[int, ...] = (0,)  # the exit codes of a run that did its work


COMMANDS = (
    Command("--help", ("--help",)),
    Command(
        "chat --jsonl (1 line)", ("chat", "--as", "081234567890", "--jsonl"), b'{"text": "halo"}\n'
    ),
    Command("db upgrade (current)", ("db", "upgrade")),
    Command("broadcast status", ("broadcast", "status")),
    Command("doctor", ("doctor",), exits=(1,)),  # 1: no platform is configured here
    Command(
        "worker --once (empty)",
        ("worker", "--once"),
        env=(("MARKETPLACE_API_URL", "http://127.0.0.1:9/"), ("MARKETPLACE_API_KEY", "k")),
    ),
    Command("import --help", ("import", "--help")),
    Command("run (to /health/live)", ("run",), serves=True),
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _base_env(folder: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "TWILIO_", "MARKETPLACE_", "PUBLIC_BASE_URL"))
        and k not in ("DATABASE_URL", "MEDIA_DIR", "PYTHONDONTWRITEBYTECODE", "LOG_FORMAT")
    }
    env["DATABASE_URL"] = f"sqlite:///{folder / 'p.db'}"
    env["MEDIA_DIR"] = str(folder / "media")
    env["COLUMNS"] = "120"
    return env


def _prepare(template: Path, folder: Path) -> None:
    folder.mkdir()
    for file in template.glob("p.db*"):
        shutil.copy(file, folder / file.name)


def _exited(command: Command, env: dict[str, str], cwd: Path) -> tuple[float, float]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", *command.args],
        env=env,
        cwd=cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert process.stdin is not None
    process.stdin.write(command.stdin)
    process.stdin.close()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if process.returncode not in command.exits:
        raise RuntimeError(f"pelapak {' '.join(command.args)} exited {process.returncode}")
    return usage.ru_utime, usage.ru_stime


def _served(env: dict[str, str], cwd: Path, fake: FakeTelegram) -> tuple[float, float]:
    port = _free_port()
    env = {
        **env,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "TELEGRAM_API_FILE_URL": fake.file_url,
        "TELEGRAM_WEBHOOK_SECRET": "bench-secret",
        "PUBLIC_BASE_URL": "https://pelapak.test",
        "PORT": str(port),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run"],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("pelapak run did not come up")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=1):
                    break
            except OSError:
                time.sleep(0.01)
        fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) / TICKS, int(fields[12]) / TICKS  # utime, stime
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def measure(
    command: Command, runs: int, template: Path, scratch: Path
) -> list[tuple[float, float]]:
    """User and system CPU of `runs` runs, after one unmeasured run (bytecode, disk cache)."""
    fake = FakeTelegram() if command.serves else None
    samples = []
    try:
        for n in range(runs + 1):
            folder = scratch / f"{command.args[0].strip('-')}-{n}"
            _prepare(template, folder)
            env = {**_base_env(folder), **dict(command.env)}
            if fake is not None:
                sample = _served(env, folder, fake)
            else:
                sample = _exited(command, env, folder)
            if n:
                samples.append(sample)
    finally:
        if fake is not None:
            fake.close()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", nargs="*", help="names starting with these, e.g. doctor run")
    args = parser.parse_args()
    commands = [
        c for c in COMMANDS if not args.only or any(c.name.startswith(o) for o in args.only)
    ]
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        template = scratch / "template"
        template.mkdir()
        upgrade = subprocess.run(
            [sys.executable, "-m", "bot.cli", "db", "upgrade"],
            env=_base_env(template),
            cwd=template,
            capture_output=True,
        )
        if upgrade.returncode != 0:
            sys.exit(upgrade.stderr.decode()[-2000:])
        print(f"median of {args.runs} runs, CPU seconds (python -m bot.cli ...)")
        print(f"{'command':28} {'user':>6} {'sys':>6} {'total':>6}")
        for command in commands:
            samples = measure(command, args.runs, template, scratch)
            user = statistics.median(u for u, _ in samples)
            system = statistics.median(s for _, s in samples)
            total = statistics.median(u + s for u, s in samples)
            print(f"{command.name:28} {user:6.2f} {system:6.2f} {total:6.2f}", flush=True)


if __name__ == "__main__":
    main()
