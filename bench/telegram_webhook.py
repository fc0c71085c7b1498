"""Owners registering at once over the Telegram webhook: Pelapak (SQLite, PostgreSQL) vs PTB.

Run: `make bench-telegram` (or `.venv/bin/python bench/telegram_webhook.py --owners 50`).

The servers run as subprocesses: `pelapak run` on SQLite, `pelapak run` on PostgreSQL and
bench/reference_bot.py (python-telegram-bot's ConversationHandler + PicklePersistence, the
yardstick). This process is the load generator and the fake Bot API (aiohttp, answering
after `--latency` seconds per call), so neither shares the server's GIL. Every target gets
the same owners, one target after another, at each API latency.

Each owner behaves like a person: sends a message, waits for all the answers to it, pauses
(`--think`), sends the next. The replies each step gets are learnt first from one owner
(calibration); then every reply is checked: nothing lost, doubled or out of order, and every
owner registered (Pelapak's database, the reference's pickle).

Printed per run: updates/s; p50/p99 reply latency (posting an update to the fake receiving
the last reply for it); statements, transactions and writing transactions per update
(counted inside the server by SQLAlchemy events, PELAPAK_STATEMENT_STATS); CPU seconds per
update of the server process; then the Pelapak/reference ratios.

`--processes 1 2` runs Pelapak on PostgreSQL as one and as two processes on the same database
(the product supports several); the load generator spreads the updates over them one request
after another, as a round-robin load balancer would, and CPU and statements are their sums.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pickle
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_telegram import TOKEN, Updates  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SECRET = "bench-secret"
TICK = os.sysconf("SC_CLK_TCK")
SENDS = ("sendMessage", "sendPhoto")


def letters(n: int) -> str:
    """A name-like word for owner n (names with many digits are refused, as they should be)."""
    word = ""
    while True:
        n, rest = divmod(n, 26)
        word = "abcdefghijklmnopqrstuvwxyz"[rest] + word
        if n == 0:  # "Qbu", not "Bu": a word no reply has unless it names the owner
            return "Q" + word


def command(owner: Updates, text: str) -> dict[str, Any]:
    """A command as Telegram sends it, with its entity (PTB's CommandHandler needs it)."""
    update = owner.text(text)
    update["message"]["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
    return update


def script(owner: Updates, n: int) -> Iterator[dict[str, Any]]:
    """One owner's registration, each update made when it is sent: Telegram numbers updates
    in the order they happen, and Pelapak holds an update briefly while a lower one is
    missing (made up front, owner 1's first update would wait for all of owner 0's)."""
    yield command(owner, "/start")
    yield owner.callback("yes")
    yield owner.text(f"Bu Sri {letters(n)}")
    yield owner.contact(f"+62812{n:08d}")
    yield owner.text(f"Toko Bench {letters(n)}")
    yield owner.text("2")
    yield owner.text("Sidoarjo")
    yield owner.text("lewati")
    yield owner.text(f"Jl. Bench No. {n}")
    yield owner.callback("__skip__")
    yield owner.callback("save")


def shape(text: str, n: int) -> str:
    """A reply without what is particular to its owner, to compare owners' conversations."""
    return re.sub(r"\d+", "#", re.sub(rf"\b{letters(n)}\b", "@", text))


# --- the fake Bot API ---------------------------------------------------------------------


class FakeBotAPI:
    """Answers every call after `latency` seconds; records what was sent to each chat."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.calls: Counter[str] = Counter()
        self.sent: dict[int, list[tuple[float, str]]] = defaultdict(list)
        self.arrived: dict[int, asyncio.Event] = defaultdict(asyncio.Event)
        self.last_send = 0.0
        self._ids = iter(range(1000, 10**9))
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self.handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    def reset(self) -> None:
        self.calls.clear()
        self.sent.clear()

    async def handle(self, request: web.Request) -> web.Response:
        received = time.perf_counter()
        method = request.match_info["method"]
        if request.match_info["token"] != TOKEN:
            return web.json_response({"ok": False, "error_code": 401}, status=401)
        if request.content_type == "application/json":
            params: dict[str, Any] = await request.json()
        else:
            params = dict(await request.post())
        self.calls[method] += 1
        if method in SENDS:
            chat = int(params.get("chat_id", 0))
            self.sent[chat].append((received, str(params.get("text") or "")))
            self.last_send = received
            self.arrived[chat].set()
        if self.latency:
            await asyncio.sleep(self.latency)
        return web.json_response({"ok": True, "result": self._result(method, params)})

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return {"id": 42, "is_bot": True, "first_name": "Bench", "username": "BenchBot"}
        if method in (*SENDS, "editMessageText", "editMessageReplyMarkup"):
            return {
                "message_id": next(self._ids),
                "date": int(time.time()),
                "chat": {"id": int(params.get("chat_id") or 1), "type": "private"},
                "text": str(params.get("text") or ""),
            }
        if method == "getWebhookInfo":
            return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        return True

    async def replies(self, chat: int, count: int, deadline: float) -> bool:
        """Wait until `count` messages were sent to `chat` (False at the deadline)."""
        event = self.arrived[chat]
        while True:
            event.clear()
            if len(self.sent[chat]) >= count:
                return True
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return False

    async def quiet(self, seconds: float, at_most: float = 60) -> None:
        """Wait until nothing was sent for `seconds`."""
        end = time.perf_counter() + at_most
        while time.perf_counter() < end:
            idle = time.perf_counter() - self.last_send
            if idle >= seconds:
                return
            await asyncio.sleep(seconds - idle + 0.01)


# --- the servers --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Target:
    label: str
    kind: str  # pelapak | reference
    database_url: str = ""
    processes: int = 1  # Pelapak processes on the one database, behind the load generator


@dataclass
class Server:
    target: Target
    process: subprocess.Popen[bytes]
    url: str
    workdir: Path
    stats: Path

    def cpu(self) -> float:
        """User + system CPU seconds of the server process so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK

    def snapshot(self) -> dict[str, int]:
        """The server's statement counts now (it writes them on SIGUSR1)."""
        if self.target.kind != "pelapak":
            return {}
        before = self.stats.stat().st_mtime_ns if self.stats.exists() else 0
        self.process.send_signal(signal.SIGUSR1)
        for _ in range(200):
            if self.stats.exists() and self.stats.stat().st_mtime_ns != before:
                return dict(json.loads(self.stats.read_text()))
            time.sleep(0.01)
        return {}

    def stop(self) -> dict[str, int]:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.target.kind == "pelapak" and self.stats.exists():
            return dict(json.loads(self.stats.read_text()))
        return {}


class Servers:
    """One target's server processes; the load generator spreads the updates over them one
    request after another, as a round-robin load balancer would (the updates of one chat
    land on any of them)."""

    def __init__(self, servers: list[Server]) -> None:
        self.all = servers
        self.workdir = servers[0].workdir
        self._turn = 0

    @property
    def url(self) -> str:
        self._turn += 1
        return self.all[self._turn % len(self.all)].url

    def cpu(self) -> float:
        return sum(s.cpu() for s in self.all)

    def snapshot(self) -> dict[str, int]:
        return _added(s.snapshot() for s in self.all)

    def stop(self) -> dict[str, int]:
        return _added([s.stop() for s in self.all])

    @property
    def pids(self) -> list[int]:
        return [s.process.pid for s in self.all]


def _added(counts: Any) -> dict[str, int]:
    total: Counter[str] = Counter()
    for c in counts:
        total.update(c)
    return dict(total)


async def start_servers(target: Target, fake: FakeBotAPI) -> Servers:
    """The first process migrates the database; the others start once it answers."""
    servers = [await start_server(target, fake)]
    for n in range(1, target.processes):
        servers.append(await start_server(target, fake, workdir=servers[0].workdir / f"p{n}"))
    return Servers(servers)


async def start_server(target: Target, fake: FakeBotAPI, workdir: Path | None = None) -> Server:
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="pelapak-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "TELEGRAM_API_FILE_URL": fake.base_url.replace("/bot", "/file/bot"),
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "PORT": str(port),
    }
    stats = workdir / "statements.json"
    if target.kind == "pelapak":
        env.update(
            DATABASE_URL=target.database_url,
            MEDIA_DIR=str(workdir / "media"),
            TELEGRAM_MAX_MESSAGES_PER_SECOND="100000",  # uncapped: what Pelapak can do
            PELAPAK_STATEMENT_STATS=str(stats),
        )
        command = [str(Path(sys.executable).parent / "pelapak"), "run"]
    else:
        env["REFERENCE_PICKLE"] = str(workdir / "reference.pickle")
        command = [sys.executable, str(ROOT / "bench" / "reference_bot.py")]
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(command, env=env, cwd=workdir, stdout=log, stderr=log)
    server = Server(target, process, f"http://127.0.0.1:{port}/telegram/webhook", workdir, stats)
    async with aiohttp.ClientSession() as client:
        for _ in range(600):
            if process.poll() is not None:
                raise RuntimeError(f"{target.label} exited: see {workdir / 'server.log'}")
            try:
                async with client.get(f"http://127.0.0.1:{port}/health/live") as answer:
                    if answer.status == 200 and fake.calls["setWebhook"]:
                        return server
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{target.label} did not start: see {workdir / 'server.log'}")


# --- the owners ---------------------------------------------------------------------------


@dataclass
class Load:
    posted: int = 0
    latencies: list[float] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


async def post(client: aiohttp.ClientSession, url: str, update: dict[str, Any]) -> None:
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    for attempt in range(3):  # like Telegram: redeliver when the connection broke
        try:
            async with client.post(url, json=update, headers=headers) as answer:
                if answer.status == 200:
                    return
                if attempt == 2:
                    raise RuntimeError(f"webhook answered {answer.status}")
        except aiohttp.ClientError:
            if attempt == 2:
                raise
        await asyncio.sleep(0.5)


async def calibrate(
    client: aiohttp.ClientSession, server: Servers, fake: FakeBotAPI, n: int
) -> list[int]:
    """How many replies each step of the script gets, from one owner alone."""
    chat = 100_000 + n
    counts = []
    for update in script(Updates(chat, first_name=f"Sri {letters(n)}"), n):
        before = len(fake.sent[chat])
        await post(client, server.url, update)
        if not await fake.replies(chat, before + 1, time.perf_counter() + 30):
            raise RuntimeError("calibration: no reply within 30 s")
        await fake.quiet(0.8)
        counts.append(len(fake.sent[chat]) - before)
    return counts


async def owner(
    client: aiohttp.ClientSession,
    server: Servers,
    fake: FakeBotAPI,
    n: int,
    expected: list[int],
    think: float,
    load: Load,
) -> None:
    chat = 100_000 + n
    await asyncio.sleep(think * (n % 10) / 10)  # not all in the same millisecond
    for step, update in enumerate(script(Updates(chat, first_name=f"Sri {letters(n)}"), n)):
        before = len(fake.sent[chat])
        start = time.perf_counter()
        await post(client, server.url, update)
        load.posted += 1
        want = before + expected[step]
        if not await fake.replies(chat, want, start + 300):
            load.failed.append(f"owner {n} step {step}: {len(fake.sent[chat]) - before} replies")
            return
        load.latencies.append(fake.sent[chat][want - 1][0] - start)
        await asyncio.sleep(think)


# --- one run ------------------------------------------------------------------------------


@dataclass
class Result:
    label: str
    latency: float
    owners: int
    updates: int
    seconds: float
    p50: float
    p99: float
    cpu: float
    driver_cpu: float
    counts: dict[str, int]
    problems: list[str]
    load: tuple[float, float]

    @property
    def rate(self) -> float:
        return self.updates / self.seconds


async def run_one(
    target: Target, latency: float, owners: int, think: float, py_spy: str = ""
) -> Result:
    fake = FakeBotAPI(latency)
    await fake.start()
    server = await start_servers(target, fake)
    problems: list[str] = []
    try:
        connector = aiohttp.TCPConnector(limit=100)
        async with aiohttp.ClientSession(connector=connector) as client:
            expected = await calibrate(client, server, fake, owners)
            reference = [shape(text, owners) for _, text in fake.sent[100_000 + owners]]
            loadavg = os.getloadavg()[0]
            counts_before = server.snapshot()
            cpu_before = server.cpu()
            spy = profile(py_spy, server, target, latency)
            driver_before = _own_cpu()
            load = Load()
            start = time.perf_counter()
            await asyncio.gather(
                *(owner(client, server, fake, n, expected, think, load) for n in range(owners))
            )
            finished = max(
                (fake.sent[100_000 + n][-1][0] for n in range(owners) if fake.sent[100_000 + n]),
                default=start,
            )
            await fake.quiet(1.0)  # anything doubled arrives now
            cpu = server.cpu() - cpu_before
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(60)
            driver_cpu = _own_cpu() - driver_before
            loadavg_after = os.getloadavg()[0]
    finally:
        counts_after = server.stop()
        await fake.close()
    problems += load.failed
    for n in range(owners):
        got = [shape(text, n) for _, text in fake.sent[100_000 + n]]
        if len(got) < len(reference):
            problems.append(f"owner {n}: lost {len(reference) - len(got)} replies")
        elif len(got) > len(reference):
            problems.append(f"owner {n}: {len(got) - len(reference)} replies doubled")
        elif got != reference:
            i = next(i for i, (a, b) in enumerate(zip(got, reference, strict=True)) if a != b)
            problems.append(f"owner {n}: reply {i} differs: {got[i]!r} != {reference[i]!r}")
    problems += registered(target, server, owners + 1, load.posted + len(expected))
    counts = {k: counts_after.get(k, 0) - counts_before.get(k, 0) for k in counts_after}
    q = statistics.quantiles(load.latencies, n=100) if len(load.latencies) > 1 else [0.0] * 99
    result = Result(
        label=target.label,
        latency=latency,
        owners=owners,
        updates=load.posted,
        seconds=finished - start,
        p50=statistics.median(load.latencies) if load.latencies else 0.0,
        p99=q[98],
        cpu=cpu,
        driver_cpu=driver_cpu,
        counts=counts,
        problems=problems,
        load=(loadavg, loadavg_after),
    )
    if not problems:
        subprocess.run(["rm", "-rf", str(server.workdir)], check=False)
    return result


def profile(
    py_spy: str, server: Servers, target: Target, latency: float
) -> subprocess.Popen[bytes] | None:
    """`py-spy record` on the (first) server during the load (--py-spy PATH_TO_PY_SPY): only
    the thread holding the GIL is sampled, so the profile shows what the process spends its
    one core on, not the threads waiting for a connection or the writer lock."""
    if not py_spy:
        return None
    name = f"{target.label.replace(' ', '-').replace('(', '').replace(')', '')}"
    out = Path.cwd() / f"profile-{name}-{latency * 1000:.0f}ms"
    command = [py_spy, "record", "--pid", str(server.pids[0]), "--rate", "100", "--gil"]
    return subprocess.Popen(
        [*command, "--threads", "--format", "raw", "-o", f"{out}.txt"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def registered(target: Target, server: Servers, sellers: int, updates: int) -> list[str]:
    """Every owner is a seller, every update was processed once, none is left waiting."""
    if target.kind == "reference":
        path = server.workdir / "reference.pickle"
        with path.open("rb") as f:
            data = pickle.load(f)
        found = len(data["bot_data"].get("sellers", {}))
        return [] if found == sellers else [f"reference: {found} sellers, {sellers} expected"]
    engine = sa.create_engine(target.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT count(*), count(DISTINCT shop_name) FROM seller")
            count, shops = rows.one()
            processed = conn.exec_driver_sql("SELECT count(*) FROM processed_update").scalar()
            waiting = conn.exec_driver_sql(
                "SELECT count(*) FROM inbound_update WHERE processed_at IS NULL"
            ).scalar()
    finally:
        engine.dispose()
    problems = []
    if not count == shops == sellers:
        problems.append(f"{count} sellers ({shops} distinct shops), {sellers} expected")
    if processed != updates:
        problems.append(f"{processed} updates processed, {updates} posted")
    if waiting:
        problems.append(f"{waiting} updates left unprocessed")
    return problems


@contextmanager
def fresh_postgres() -> Iterator[str]:
    name = f"pelapak_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@contextmanager
def database_for(kind: str, processes: int = 1) -> Iterator[Target]:
    if kind == "sqlite":
        folder = tempfile.mkdtemp(prefix="pelapak-bench-db-")
        try:
            yield Target("Pelapak SQLite", "pelapak", f"sqlite:///{folder}/bench.db")
        finally:
            subprocess.run(["rm", "-rf", folder], check=False)
    elif kind == "postgres":
        label = "Pelapak PostgreSQL" + (f" x{processes}" if processes > 1 else "")
        with fresh_postgres() as url:
            yield Target(label, "pelapak", url, processes)
    else:
        yield Target("reference (PTB)", "reference")


# --- the report ---------------------------------------------------------------------------


def show(r: Result) -> None:
    per = max(r.updates, 1)
    c = r.counts
    print(
        f"{r.label:<19} API {r.latency * 1000:>3.0f} ms: {r.updates} updates in "
        f"{r.seconds:5.1f} s = {r.rate:6.1f} updates/s, p50 {r.p50 * 1000:6.0f} ms, "
        f"p99 {r.p99 * 1000:6.0f} ms, CPU {r.cpu / per * 1000:5.1f} ms/update "
        f"(load generator {r.driver_cpu / per * 1000:4.1f}), load avg "
        f"{r.load[0]:.1f}->{r.load[1]:.1f}",
        flush=True,
    )
    if c:
        transactions = c.get("commits", 0) + c.get("rollbacks", 0)
        print(
            f"{'':<19} per update: {c.get('statements', 0) / per:5.1f} statements, "
            f"{transactions / per:4.2f} transactions ({c.get('writing_transactions', 0) / per:4.2f}"
            f" writing), {c.get('checkouts', 0) / per:4.2f} pool checkouts",
            flush=True,
        )
    if r.problems:
        print(f"{'':<19} PROBLEMS ({len(r.problems)}): {'; '.join(r.problems[:5])}", flush=True)
    else:
        print(f"{'':<19} every owner registered; nothing lost, doubled or out of order", flush=True)


def summary(results: list[Result]) -> None:
    print("\nPelapak / reference (updates/s; median of the repeats; ranges in the lines above)")
    for latency in sorted({r.latency for r in results}):
        here = [r for r in results if r.latency == latency]
        ref = [r.rate for r in here if r.label.startswith("reference")]
        if not ref:
            continue
        base = statistics.median(ref)
        for label in dict.fromkeys(r.label for r in here if r.label.startswith("Pelapak")):
            rates = [r.rate for r in here if r.label == label]
            if rates:
                print(
                    f"  API {latency * 1000:3.0f} ms  {label:<19} "
                    f"{statistics.median(rates):6.1f} / {base:6.1f} = "
                    f"{statistics.median(rates) / base:5.2f}x "
                    f"(range {min(rates) / max(ref):.2f}-{max(rates) / min(ref):.2f}x)"
                )


async def main_async(args: argparse.Namespace) -> list[Result]:
    results = []
    for latency in args.latency:
        for _ in range(args.repeat):
            for kind, processes in runs(args):
                with database_for(kind, processes) as target:
                    result = await run_one(target, latency, args.owners, args.think, args.py_spy)
                show(result)
                results.append(result)
    return results


def runs(args: argparse.Namespace) -> list[tuple[str, int]]:
    """Each target once per --processes count (SQLite and the reference: one process)."""
    out: list[tuple[str, int]] = []
    for kind in args.targets:
        counts = args.processes if kind == "postgres" else [1]
        out += [(kind, n) for n in counts]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--owners", type=int, default=200)
    parser.add_argument(
        "--latency", type=float, nargs="+", default=[0.0, 0.05], help="seconds per Bot API call"
    )
    parser.add_argument(
        "--targets",
        nargs="+",
        default=["sqlite", "postgres", "reference"],
        choices=["sqlite", "postgres", "reference"],
    )
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--processes",
        type=int,
        nargs="+",
        default=[1],
        help="Pelapak processes on PostgreSQL, updates spread over them (e.g. 1 2: both)",
    )
    parser.add_argument("--py-spy", default="", help="py-spy executable: profile the servers")
    parser.add_argument("--think", type=float, default=0.3, help="an owner's pause, seconds")
    args = parser.parse_args()
    print(
        f"{args.owners} owners x 11 updates, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    results = asyncio.run(main_async(args))
    summary(results)
    if any(r.problems for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
