"""A scripted owner drives `pelapak chat --jsonl` in a real process, reading each question."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from sqlmodel import select

from bot.app import App
from bot.channels.console import MAX_LINE_BYTES, ConsoleChannel
from bot.storage.models import ChannelAccount, Conversation, OutboxEvent, Product, Seller
from tests import images

PHONE = "+6281234567890"


class ScriptedOwner:
    """Answers whatever the bot asks, like an owner following the questions."""

    def __init__(self, photos: list[Path]) -> None:
        self.photos = list(photos)
        self.sent_photos = 0

    def answer(self, reply: dict[str, Any]) -> dict[str, Any] | None:
        text = reply["text"]
        choices = {c["label"]: c["id"] for c in reply["choices"]}
        rules: list[tuple[str, dict[str, Any]]] = [
            ("Cek datanya", {"text": "simpan"}),
            ("Cek produknya", {"text": "simpan"}),
            ("Setuju?", {"choice": choices.get("Setuju", "yes")}),
            ("Siapa nama Kakak", {"text": "sri wahyuni"}),
            ("Nomor HP Kakak", {"text": "iya"}),
            ("nama toko", {"text": "Keripik Tempe Bu Sri"}),
            ("Pilih itu kalau benar", {"text": "ya"}),  # the category its name says
            ("jualan apa", {"text": "keripik"}),
            ("kabupaten/kota", {"text": "sidoarjo"}),
            ("Kecamatannya", {"text": "waru"}),
            ("alamat usahanya", {"text": "Jl. Raya Waru No. 12, RT 02/RW 03"}),
            ("NIB", {"text": "lewati"}),
            ("Cek datanya", {"text": "simpan"}),
            ("nama produknya", {"text": "Keripik Tempe Pedas 200 gr"}),
            ("Kategorinya", {"text": "ya"}),
            ("harganya", {"text": "25rb"}),
            ("Harga Rp25.000 ya", {"text": "iya"}),
            ("Stoknya", {"text": "2 lusin"}),
            ("Minimal beli", {"text": "1"}),
            ("berat satu produk", {"text": "250 gr"}),
            ("baru atau bekas", {"text": "baru"}),
            ("deskripsi", {"text": "pakai"}),
            ("Cek produknya", {"text": "simpan"}),
        ]
        if "foto" in text.lower() and ("Kirim" in text or "selesai" in text):
            if self.sent_photos < len(self.photos):
                self.sent_photos += 1
                return {"photo": str(self.photos[self.sent_photos - 1])}
            return {"text": "selesai"}
        if "tambah produk lain" in text:
            return None
        for needle, message in rules:
            if needle in text:
                return message
        raise AssertionError(f"the scripted owner does not understand: {text!r}")


def start_chat(app: App, phone: str = PHONE) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "DATABASE_URL": app.settings.database_url,
        "MEDIA_DIR": str(app.settings.media_dir),
        "STRICT_MESSAGES": "true",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "chat", "--as", phone, "--jsonl"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
    )


def exchange(proc: subprocess.Popen[str], message: dict[str, Any]) -> list[dict[str, Any]]:
    assert proc.stdin and proc.stdout
    proc.stdin.write(json.dumps(message) + "\n")
    proc.stdin.flush()
    line = proc.stdout.readline()
    return json.loads(line)["replies"]


@pytest.mark.any_backend
def test_scripted_owner_registers_and_lists_a_product(app: App, tmp_path: Path) -> None:
    photos = []
    for seed in (11, 12, 13):
        path = tmp_path / f"produk{seed}.jpg"
        path.write_bytes(images.sharp(seed))
        photos.append(path)
    owner = ScriptedOwner(photos)
    proc = start_chat(app)
    try:
        replies = exchange(proc, {"text": "/start"})
        counts = {"registration": 1, "product": 0}
        phase = "registration"
        transcript: list[str] = []
        for _ in range(40):
            transcript.append(replies[-1]["text"])
            message = owner.answer(replies[-1])
            if message is None:
                break
            counts[phase] += 1
            replies = exchange(proc, message)
            if any("sudah terdaftar" in r["text"] for r in replies):
                phase = "product"
        else:
            raise AssertionError("the conversation did not end:\n" + "\n".join(transcript))
    finally:
        proc.stdin.close()  # type: ignore[union-attr]
        proc.wait(timeout=30)
    assert counts["registration"] <= 12
    assert counts["product"] <= 14
    with app.db.session() as s:
        [seller] = s.exec(select(Seller))
        [product] = s.exec(select(Product))
        kinds = [e.kind for e in s.exec(select(OutboxEvent).order_by(OutboxEvent.id))]
    assert (seller.shop_name, seller.phone, seller.regency_code) == (
        "Keripik Tempe Bu Sri",
        PHONE,
        "3515",
    )
    assert (product.name, product.price, product.stock, product.min_order) == (
        "Keripik Tempe Pedas 200 gr",
        25000,
        24,
        1,
    )
    assert (product.weight_grams, product.category, product.condition) == (
        250,
        "makanan-minuman",
        "new",
    )
    assert product.status == "pending" and len(product.photos) == 3
    assert "Keripik Tempe Pedas" in (product.description or "")
    assert kinds == ["seller.upsert", "product.upsert"]


@pytest.mark.any_backend
def test_state_survives_between_runs_and_each_line_gets_one_answer(app: App) -> None:
    proc = start_chat(app)
    exchange(proc, {"text": "/start"})
    exchange(proc, {"choice": "yes"})
    assert proc.stdin and proc.stdout
    proc.stdin.write("this is not json\n")
    proc.stdin.flush()
    assert json.loads(proc.stdout.readline())["error"].startswith("bad input line")
    proc.stdin.close()
    proc.wait(timeout=30)
    again = start_chat(app)
    replies = exchange(again, {"text": "Sri"})
    again.stdin.close()  # type: ignore[union-attr]
    again.wait(timeout=30)
    assert "0812-3456-7890" in replies[-1]["text"]


@pytest.mark.any_backend
def test_every_kind_of_photo_through_the_console(app: App, tmp_path: Path) -> None:
    """Bad files get their message and store nothing; good ones are stored once, cleaned."""
    from tests.conftest import Chat
    from tests.test_registration import register

    register(Chat(app.runner, PHONE, phone=PHONE))  # the same owner the console speaks as
    files = {
        "kecil.jpg": images.tiny(),
        "bom.png": images.bomb(),
        "rusak.jpg": images.truncated(),
        "teks.jpg": images.text_named_jpg(),
        "besar.jpg": images.huge_file(),
        "bagus.jpg": images.sharp(51),
        "miring.jpg": images.rotated_with_gps(),
        "transparan.png": images.transparent_png(),
        "buram.jpg": images.blurred(52),
        "gelap.jpg": images.dark(53),
        "dua_belas_mp.jpg": images.twelve_megapixel(54),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    expected_refusals = {
        "kecil.jpg": "terlalu kecil",
        "bom.png": "tidak wajar",
        "rusak.jpg": "rusak",
        "teks.jpg": "bukan foto",
        "besar.jpg": "terlalu besar",
    }
    proc = start_chat(app)
    try:
        for name, words in expected_refusals.items():
            [reply] = exchange(proc, {"photo": str(tmp_path / name)})
            assert words in reply["text"], name
        media = app.settings.media_dir
        assert [f for f in media.rglob("*") if f.is_file()] == []  # not even a temporary file
        assert "1 dari 5" in exchange(proc, {"photo": str(tmp_path / "bagus.jpg")})[-1]["text"]
        assert (
            "sudah Kakak kirim"
            in exchange(proc, {"photo": str(tmp_path / "bagus.jpg")})[-1]["text"]
        )
        assert "buram" in exchange(proc, {"photo": str(tmp_path / "buram.jpg")})[-1]["text"]
        assert "2 foto" in exchange(proc, {"text": "pakai"})[-1]["text"]
        assert "gelap" in exchange(proc, {"photo": str(tmp_path / "gelap.jpg")})[-1]["text"]
        exchange(proc, {"text": "kirim ulang"})
        album = [str(tmp_path / n) for n in ("miring.jpg", "transparan.png", "dua_belas_mp.jpg")]
        replies = exchange(proc, {"photos": album})
        assert len(replies) == 1 and "5 dari 5" not in replies[0]["text"]
        assert "nama produknya" in replies[0]["text"]  # five photos: on to the next question
    finally:
        proc.stdin.close()  # type: ignore[union-attr]
        proc.wait(timeout=30)
    stored = sorted(f for f in app.settings.media_dir.rglob("*") if f.is_file())
    assert all(f.suffix == ".jpg" for f in stored)  # no temporary file left behind
    assert len(stored) == 6  # sharp, blurred, dark (stored, then not used), rotated, png, 12 MP
    for path in stored:
        with Image.open(path) as image:
            assert image.format == "JPEG" and max(image.size) <= 2000
            assert len(image.getexif()) == 0


def run_lines(app: App, lines: list[bytes], timeout: float = 60) -> tuple[list[Any], str]:
    """Feed `pelapak chat --jsonl` these lines at once; its output lines (decoded) and stderr."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "chat", "--as", PHONE, "--jsonl"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={
            **os.environ,
            "DATABASE_URL": app.settings.database_url,
            "MEDIA_DIR": str(app.settings.media_dir),
            "STRICT_MESSAGES": "true",
        },
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        out, err = proc.communicate(b"".join(line + b"\n" for line in lines), timeout=timeout)
    finally:
        proc.kill()
        proc.wait()
    return [json.loads(line) for line in out.decode().splitlines()], err.decode()


def conversation_version(app: App) -> int:
    with app.db.session() as s:
        account = s.exec(select(ChannelAccount).where(ChannelAccount.external_id == PHONE)).first()
        if account is None:
            return 0
        conversation = s.exec(
            select(Conversation).where(Conversation.account_id == account.id)
        ).one()
        return conversation.version


BAD_LINES = [
    b"",
    b"   \t",
    b'{"text": 5}',
    b'{"text": {"nested": "object"}}',
    b'{"choice": 1}',
    b'{"photo": ["/tmp/a.jpg"]}',
    b'{"photos": "/tmp/a.jpg"}',
    b'{"photos": ["/tmp/a.jpg", 3]}',
    b'{"contact": 6281234567890}',
    b'{"unsupported": true}',
    b'{"location": "-7.25,112.75"}',
    b'{"location": [-7.25]}',
    b'{"location": [-7.25, "112.75"]}',
    b'{"location": [true, false]}',
    b'{"location": [NaN, 112.75]}',
    b'{"location": [-97.25, 112.75]}',
    b'{"text": "halo", "txet": "typo"}',
    b'[{"text": "halo"}]',
    b'"halo"',
    b"null",
    b"not json",
    b'{"text": "cut off',
    b'\xff\xfe{"text": "halo"}',
    b"[" * 100_000 + b"]" * 100_000,
]


@pytest.mark.any_backend
def test_every_line_gets_one_line_and_a_bad_one_reaches_nobody(app: App) -> None:
    outputs, stderr = run_lines(app, BAD_LINES)
    assert len(outputs) == len(BAD_LINES)
    for line, out in zip(BAD_LINES, outputs, strict=True):
        assert out["replies"] == [], line[:40]
        assert out["error"].startswith("bad input line: "), line[:40]
    assert "must be a string" in outputs[2]["error"]
    assert "two numbers" in outputs[13]["error"]
    assert "Traceback" not in stderr
    assert conversation_version(app) == 0  # the runner never saw any of them
    # good lines between bad ones are answered in their place
    mixed = [b'{"text": "/start"}', b"", b'{"text": 5}', b'{"choice": "yes"}', b" "]
    outputs, stderr = run_lines(app, mixed)
    assert [bool(o["replies"]) for o in outputs] == [True, False, False, True, False]
    assert [("error" in o) for o in outputs] == [False, True, True, False, True]
    assert "Traceback" not in stderr
    assert conversation_version(app) == 2


@pytest.mark.any_backend
def test_devices_pipes_and_oversized_files_are_refused_without_reading_them(
    app: App, tmp_path: Path
) -> None:
    from tests.conftest import Chat
    from tests.test_registration import register

    register(Chat(app.runner, PHONE, phone=PHONE))
    before = conversation_version(app)
    fifo = tmp_path / "pipa.jpg"
    os.mkfifo(fifo)  # opening it to read would wait for a writer forever
    sparse = tmp_path / "raksasa.jpg"
    with sparse.open("wb") as handle:
        handle.truncate(64 * 1024**3)  # 64 GiB of nothing: reading it whole would not end well
    photos = {
        "/dev/zero": "bukan foto",
        "/dev/urandom": "bukan foto",
        str(fifo): "bukan foto",
        str(tmp_path): "bukan foto",  # a directory
        str(tmp_path / "tidak_ada.jpg"): "bukan foto",
        str(sparse): "terlalu besar",
    }
    lines = [json.dumps({"photo": path}).encode() for path in photos]
    lines.append(json.dumps({"photos": ["/dev/zero", str(sparse)]}).encode())
    outputs, stderr = run_lines(app, lines, timeout=30)
    assert len(outputs) == len(lines)
    for (path, words), out in zip(photos.items(), outputs[:-1], strict=True):
        assert words in out["replies"][-1]["text"], path
    album = " ".join(r["text"] for r in outputs[-1]["replies"])
    assert "bukan foto" in album  # the flow names the first refusal of an album
    assert "Traceback" not in stderr
    assert conversation_version(app) == before + len(lines)
    assert [f for f in app.settings.media_dir.rglob("*") if f.is_file()] == []


def run_in_process(app: App, lines: list[bytes]) -> list[dict[str, Any]]:
    """The JSONL loop itself, fed from memory; its output lines, decoded."""
    channel = ConsoleChannel(app.runner, app.media, PHONE)
    out = io.StringIO()
    channel.run_jsonl(io.BytesIO(b"".join(line + b"\n" for line in lines)), out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.mark.any_backend
def test_a_lone_surrogate_or_a_nested_location_is_a_bad_line_not_an_exit(app: App) -> None:
    lines = [
        b'{"text": "/start"}',
        b'{"location": {"a": 1}}',
        b'{"text": "\\ud800"}',
        b'{"choice": "yes"}',
        b'{"text": "Sri \\udfff Wahyuni"}',
        b'{"contact": "\\udc80"}',
        b'{"photos": ["\\ud83d"]}',
        b"\t \r",
        b'{"text": "Sri Wahyuni"}',
    ]
    outputs, stderr = run_lines(app, lines)
    assert len(outputs) == len(lines)
    assert [("error" in o) for o in outputs] == [
        False,
        True,
        True,
        False,
        True,
        True,
        True,
        True,
        False,
    ]
    assert "surrogate" in outputs[2]["error"] and "text" in outputs[2]["error"]
    assert "Nomor HP" in outputs[-1]["replies"][-1]["text"]  # the name was taken, once
    assert "Traceback" not in stderr


@pytest.mark.any_backend
def test_a_line_over_64_kb_is_refused_and_the_next_line_is_read(app: App) -> None:
    long_text = json.dumps({"text": "x" * (MAX_LINE_BYTES + 10)}).encode()
    lines = [b'{"text": "/start"}', long_text, b"[" * 40_000 + b"]" * 40_000, b'{"choice": "yes"}']
    outputs = run_in_process(app, lines)
    assert MAX_LINE_BYTES == 64 * 1024
    assert len(outputs) == 4
    assert outputs[1]["error"] == f"bad input line: longer than {MAX_LINE_BYTES} bytes"
    assert outputs[2]["error"].startswith("bad input line: ")
    assert "Siapa nama Kakak" in outputs[3]["replies"][-1]["text"]
    assert conversation_version(app) == 2


@pytest.mark.any_backend
def test_a_long_text_under_the_line_limit_is_answered_about_its_length(app: App) -> None:
    lines = [
        b'{"text": "/start"}',
        b'{"choice": "yes"}',
        b'{"text": "Sri"}',
        b'{"text": "ya"}',
        json.dumps({"text": "Toko " * 12_000}).encode(),  # 60,000 characters
    ]
    outputs = run_in_process(app, lines)
    assert "kepanjangan" in outputs[-1]["replies"][-1]["text"]
    with app.db.session() as s:
        assert s.exec(select(Seller)).first() is None


def _lines_without_newlines(values: list[bytes]) -> list[bytes]:
    return [v.replace(b"\n", b" ") for v in values]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
field_objects = st.dictionaries(
    st.sampled_from(["text", "choice", "contact", "unsupported", "location", "photos", "x"]),
    json_values,
    max_size=3,
)
raw_lines = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    field_objects.map(lambda v: json.dumps(v).encode()),
    field_objects.map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass")),
    st.binary(max_size=40),
    st.sampled_from([b"", b" ", b"\r", b"\x00", b'{"text": "\\ud800"}', b"\xed\xa0\x80"]),
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=st.lists(raw_lines, min_size=1, max_size=4).map(_lines_without_newlines))
def test_any_line_gets_exactly_one_json_line(app: App, lines: list[bytes]) -> None:
    channel = ConsoleChannel(app.runner, app.media, PHONE)
    out = io.StringIO()
    channel.run_jsonl(io.BytesIO(b"".join(line + b"\n" for line in lines)), out)
    written = out.getvalue()
    assert written.endswith("\n")
    outputs = [json.loads(line) for line in written.splitlines()]
    assert len(outputs) == len(lines)
    for out_line in outputs:
        assert set(out_line) <= {"replies", "error"}
        assert isinstance(out_line["replies"], list)
        assert out_line.get("error") != "internal error"
        if "error" in out_line:
            assert out_line["error"].startswith("bad input line: ")
            assert out_line["replies"] == []
        for reply in out_line["replies"]:
            assert reply["text"] and "Maaf, ada gangguan" not in reply["text"]


def _product_answers(price: str, stock: str, min_order: str, weight: str) -> list[bytes]:
    return [
        json.dumps({"text": text}).encode()
        for text in ("Keripik Tempe Pedas", "ya", price, stock, min_order, weight, "baru", "pakai")
    ]


def test_odd_digits_huge_numbers_nul_and_a_bot_suffixed_command(app: App, tmp_path: Path) -> None:
    """Issue 12 item 9, end to end: none of these crash or store anything wrong."""
    photo = tmp_path / "produk.jpg"
    photo.write_bytes(images.sharp(61))
    huge = "9" * 400
    registration = [
        b'{"text": "/start"}',
        '{"text": "\u2460"}'.encode(),  # ①: the first choice, as 1 would be
        b'{"text": "Sri\\u0000 Wahyuni"}',
        b'{"text": "ya"}',
        b'{"text": "Toko\\u0000 Sri"}',
        '{"text": "\u00b2"}'.encode(),  # ²: the second category
        b'{"text": "sidoarjo"}',
        b'{"text": "waru"}',
        b'{"text": "Jl. Raya Waru 12"}',
        b'{"text": "lewati"}',
        b'{"text": "simpan"}',
    ]
    outputs = run_in_process(app, registration)
    assert all("error" not in o for o in outputs)
    assert "Siapa nama Kakak" in outputs[1]["replies"][-1]["text"]
    with app.db.session() as s:
        seller = s.exec(select(Seller)).one()
    assert (seller.owner_name, seller.shop_name, seller.category) == (
        "Sri Wahyuni",
        "Toko Sri",
        "fashion",
    )
    product = [json.dumps({"photo": str(photo)}).encode(), b'{"text": "selesai"}']
    product += [
        b'{"text": "Keripik Tempe Pedas"}',
        b'{"text": "ya"}',
        json.dumps({"text": huge}).encode(),  # price
        b'{"text": "25rb"}',
        b'{"text": "ya"}',
        json.dumps({"text": huge}).encode(),  # stock
        b'{"text": "10"}',
        json.dumps({"text": huge}).encode(),  # minimum order
        b'{"text": "1"}',
        json.dumps({"text": huge + " gr"}).encode(),  # weight
        b'{"text": "250 gr"}',
        b'{"text": "/batal@PelapakBot"}',
    ]
    outputs = run_in_process(app, product)
    texts = [o["replies"][-1]["text"] for o in outputs]
    assert all("error" not in o for o in outputs)
    assert not any("Maaf, ada gangguan" in t for t in texts)
    assert "Stoknya" not in texts[4]  # the huge price was refused, asked again
    for index in (7, 9, 11):  # each huge number got a re-prompt, not the next question
        assert texts[index] != texts[index + 1]
    with app.db.session() as s:
        draft = s.exec(select(Conversation)).one().draft
        products = list(s.exec(select(Product)))
    assert all(p.status == "draft" for p in products)  # cancelled: nothing was listed
    for p in products:
        for value in (p.price, p.stock, p.min_order, p.weight_grams):
            assert value is None or value < 10**9
    assert huge not in json.dumps(draft)
