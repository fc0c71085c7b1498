"""The yardstick: Pelapak's registration written the way python-telegram-bot's examples teach.

`Application` + `ConversationHandler` + `PicklePersistence` (flushed every 60 s, so a crash
loses up to a minute of every conversation), PTB's defaults (one update at a time, each reply
awaited), and the small Starlette webhook of PTB's "custom webhook" example. It asks the same
questions as flows/registration.py (consent, owner's name, phone, shop name, category,
regency, district, address, NIB, summary) with short texts and light checks. It is what
bench/telegram_webhook.py compares Pelapak with; it is not part of the product.

Environment: TELEGRAM_BOT_TOKEN, TELEGRAM_API_BASE_URL, TELEGRAM_WEBHOOK_SECRET,
PUBLIC_BASE_URL, PORT, REFERENCE_PICKLE (the persistence file).
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import warnings
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    PicklePersistence,
    filters,
)
from telegram.warnings import PTBUserWarning

# Per-chat tracking, as in PTB's conversationbot example (PTB warns about per_message).
warnings.filterwarnings("ignore", category=PTBUserWarning)

CONSENT, NAME, PHONE, SHOP, CATEGORY, REGENCY, DISTRICT, ADDRESS, NIB, CONFIRM = range(10)
CATEGORIES = ["Makanan", "Minuman", "Fashion", "Kerajinan", "Pertanian", "Jasa", "Lainnya"]
Context = ContextTypes.DEFAULT_TYPE


def _data(context: Context) -> dict[str, Any]:
    assert context.user_data is not None
    return context.user_data


async def start(update: Update, context: Context) -> int:
    _data(context).clear()
    keyboard = [
        [
            InlineKeyboardButton("Setuju", callback_data="yes"),
            InlineKeyboardButton("Tidak", callback_data="no"),
        ]
    ]
    assert update.message is not None
    await update.message.reply_text(
        "Selamat datang di Pelapak! Data Anda kami simpan untuk membuka toko. Setuju?",
        reply_markup=InlineKeyboardMarkup(keyboard),
    )
    return CONSENT


async def consent(update: Update, context: Context) -> int:
    query = update.callback_query
    assert query is not None and isinstance(query.message, Message)
    await query.answer()
    if query.data != "yes":
        await query.edit_message_text("Baik, data Anda tidak kami simpan.")
        return ConversationHandler.END
    await query.edit_message_text("Terima kasih, Anda setuju.")
    _data(context)["consent"] = True
    await query.message.reply_text("Siapa nama pemilik usaha?")
    return NAME


async def name(update: Update, context: Context) -> int:
    assert update.message is not None
    text = (update.message.text or "").strip()
    if len(text) < 2 or re.search(r"\d{3,}", text):
        await update.message.reply_text("Nama belum benar. Siapa nama Anda?")
        return NAME
    _data(context)["owner_name"] = text
    button = KeyboardButton("Kirim nomor saya", request_contact=True)
    await update.message.reply_text(
        "Nomor HP Anda?",
        reply_markup=ReplyKeyboardMarkup([[button]], one_time_keyboard=True),
    )
    return PHONE


async def phone(update: Update, context: Context) -> int:
    assert update.message is not None
    contact = update.message.contact
    raw = contact.phone_number if contact else (update.message.text or "")
    digits = re.sub(r"\D", "", raw)
    if not 9 <= len(digits) <= 15:
        await update.message.reply_text("Nomor belum benar. Nomor HP Anda?")
        return PHONE
    _data(context)["phone"] = "+" + digits if digits.startswith("62") else digits
    await update.message.reply_text("Apa nama toko Anda?", reply_markup=ReplyKeyboardRemove())
    return SHOP


async def shop(update: Update, context: Context) -> int:
    assert update.message is not None
    text = (update.message.text or "").strip()
    taken = context.bot_data.setdefault("shop_names", set())
    if len(text) < 3 or text.casefold() in taken:
        await update.message.reply_text("Nama toko belum bisa dipakai. Nama lain?")
        return SHOP
    _data(context)["shop_name"] = text
    listed = "\n".join(f"{i}. {c}" for i, c in enumerate(CATEGORIES, 1))
    await update.message.reply_text(f"Jenis usaha Anda? Ketik nomornya:\n{listed}")
    return CATEGORY


async def category(update: Update, context: Context) -> int:
    assert update.message is not None
    text = (update.message.text or "").strip()
    if not text.isdigit() or not 1 <= int(text) <= len(CATEGORIES):
        await update.message.reply_text("Ketik nomor jenis usaha, 1 sampai 7.")
        return CATEGORY
    _data(context)["category"] = CATEGORIES[int(text) - 1]
    await update.message.reply_text("Di kabupaten/kota mana usaha Anda?")
    return REGENCY


async def regency(update: Update, context: Context) -> int:
    assert update.message is not None
    _data(context)["regency"] = (update.message.text or "").strip().title()
    await update.message.reply_text("Kecamatannya? (ketik 'lewati' kalau tidak tahu)")
    return DISTRICT


async def district(update: Update, context: Context) -> int:
    assert update.message is not None
    text = (update.message.text or "").strip()
    _data(context)["district"] = None if text.lower() == "lewati" else text.title()
    await update.message.reply_text("Alamat lengkap usaha Anda?")
    return ADDRESS


async def address(update: Update, context: Context) -> int:
    assert update.message is not None
    text = (update.message.text or "").strip()
    if len(text) < 5:
        await update.message.reply_text("Alamat terlalu pendek. Alamat lengkap?")
        return ADDRESS
    _data(context)["address"] = text
    keyboard = [[InlineKeyboardButton("Belum punya NIB", callback_data="__skip__")]]
    await update.message.reply_text(
        "Nomor Induk Berusaha (NIB) Anda?", reply_markup=InlineKeyboardMarkup(keyboard)
    )
    return NIB


def _summary(data: dict[str, Any]) -> str:
    fields = ("owner_name", "phone", "shop_name", "category", "regency", "district", "address")
    lines = [f"{f}: {data.get(f) or '-'}" for f in fields]
    return "Data toko Anda:\n" + "\n".join(lines) + f"\nnib: {data.get('nib') or '-'}\nSimpan?"


async def _confirm(message: Any, context: Context) -> int:
    keyboard = [
        [
            InlineKeyboardButton("Simpan", callback_data="save"),
            InlineKeyboardButton("Ubah", callback_data="edit"),
        ]
    ]
    await message.reply_text(_summary(_data(context)), reply_markup=InlineKeyboardMarkup(keyboard))
    return CONFIRM


async def nib_skip(update: Update, context: Context) -> int:
    query = update.callback_query
    assert query is not None and query.message is not None
    await query.answer()
    await query.edit_message_text("NIB: belum punya")
    _data(context)["nib"] = None
    return await _confirm(query.message, context)


async def nib_typed(update: Update, context: Context) -> int:
    assert update.message is not None
    digits = re.sub(r"\D", "", update.message.text or "")
    if len(digits) != 13:
        await update.message.reply_text("NIB 13 angka. Coba lagi?")
        return NIB
    _data(context)["nib"] = digits
    return await _confirm(update.message, context)


async def save(update: Update, context: Context) -> int:
    query = update.callback_query
    assert query is not None and isinstance(query.message, Message)
    await query.answer()
    if query.data != "save":
        await query.edit_message_text("Silakan mulai lagi dengan /start.")
        return ConversationHandler.END
    data = dict(_data(context))
    context.bot_data.setdefault("sellers", {})[query.from_user.id] = data
    context.bot_data.setdefault("shop_names", set()).add(data["shop_name"].casefold())
    await query.edit_message_text(_summary(data).rsplit("\n", 1)[0])
    await query.message.reply_text(f"Toko {data['shop_name']} sudah terdaftar. Terima kasih!")
    return ConversationHandler.END


async def cancel(update: Update, context: Context) -> int:
    assert update.message is not None
    await update.message.reply_text("Dibatalkan.", reply_markup=ReplyKeyboardRemove())
    return ConversationHandler.END


def build(token: str, base_url: str, pickle: str) -> Application:  # type: ignore[type-arg]
    persistence = PicklePersistence(filepath=pickle, update_interval=60)
    application = (
        Application.builder()
        .token(token)
        .base_url(base_url)
        .updater(None)
        .persistence(persistence)
        .build()
    )
    text = filters.TEXT & ~filters.COMMAND
    application.add_handler(
        ConversationHandler(
            entry_points=[CommandHandler("start", start)],
            states={
                CONSENT: [CallbackQueryHandler(consent)],
                NAME: [MessageHandler(text, name)],
                PHONE: [MessageHandler(filters.CONTACT | text, phone)],
                SHOP: [MessageHandler(text, shop)],
                CATEGORY: [MessageHandler(text, category)],
                REGENCY: [MessageHandler(text, regency)],
                DISTRICT: [MessageHandler(text, district)],
                ADDRESS: [MessageHandler(text, address)],
                NIB: [CallbackQueryHandler(nib_skip), MessageHandler(text, nib_typed)],
                CONFIRM: [CallbackQueryHandler(save)],
            },
            fallbacks=[CommandHandler("cancel", cancel), CommandHandler("start", start)],
            name="registration",
            persistent=True,
        )
    )
    return application


async def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    application = build(
        os.environ["TELEGRAM_BOT_TOKEN"],
        os.environ["TELEGRAM_API_BASE_URL"],
        os.environ.get("REFERENCE_PICKLE", "reference_bot.pickle"),
    )
    secret = os.environ.get("TELEGRAM_WEBHOOK_SECRET", "")
    base = os.environ["PUBLIC_BASE_URL"].rstrip("/")

    async def telegram(request: Request) -> Response:
        if secret and request.headers.get("X-Telegram-Bot-Api-Secret-Token") != secret:
            return Response(status_code=403)
        await application.update_queue.put(Update.de_json(await request.json(), application.bot))
        return Response()

    async def health(_: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    web = Starlette(
        routes=[
            Route("/telegram/webhook", telegram, methods=["POST"]),
            Route("/health/live", health),
        ]
    )
    server = uvicorn.Server(
        uvicorn.Config(
            web,
            host="127.0.0.1",
            port=int(os.environ.get("PORT", "8090")),
            log_level="warning",
            use_colors=False,
        )
    )
    # uvicorn re-raises the signal that stopped it once it has: keep the process alive
    # until PTB has stopped and flushed the persistence.
    signal.signal(signal.SIGTERM, lambda *_: None)
    async with application:
        await application.bot.set_webhook(f"{base}/telegram/webhook", secret_token=secret or None)
        await application.start()
        await server.serve()
        await application.stop()


if __name__ == "__main__":
    asyncio.run(main())
