"""Writes global_words_*.yaml: every global word at every step of registration and product.

Run it again after a step is added: `python tests/transcripts/make_global_words.py`.
The expectations are the rules of the global words, stated once here:
  batal    -> the flow's "cancelled", nothing open; once a question has been answered, first
              "yakin?", and "ya" cancels (one word must not throw away what was answered)
  kembali  -> the previous question (the first one says it is the first)
  bantuan  -> the step's help, then the same question again
  menu     -> the menu; the flow waits, parked
  ubah     -> "which one?" with what was answered so far (nothing yet: say so, ask again)
  lewati   -> optional steps store nothing and go on; required ones say they are required
              (registration: district and NIB are optional; product: the minimum order)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent

REGISTRATION: list[tuple[str, str, str, str | None]] = [
    # step, its question, its help, the answer that moves past it
    ("consent", "reg.consent", "reg.help.consent", "ya"),
    ("owner_name", "reg.ask_owner_name", "reg.help.owner_name", "Sri Wahyuni"),
    ("phone_confirm", "reg.ask_phone_confirm", "reg.help.phone", "ya"),
    # a name that says no category: the plain category question (a "Keripik ..." is guessed)
    ("shop_name", "reg.ask_shop_name", "reg.help.shop_name", "Sumber Rejeki Bu Sri"),
    ("category", "reg.ask_category", "reg.help.category", "makanan"),
    ("regency", "reg.ask_regency", "reg.help.regency", "sidoarjo"),
    ("district", "reg.ask_district", "reg.help.district", "waru"),
    ("address", "reg.ask_address", "reg.help.address", "Jl. Raya Waru No. 12"),
    ("nib", "reg.ask_nib", "reg.help.nib", "lewati"),
    ("summary", "reg.summary.title", "engine.help_general", None),
]
REG_OPTIONAL = {"district": "address", "nib": "summary"}
REG_SLOTS = {"owner_name": "owner_name", "shop_name": "shop_name", "address": "address"}

PRODUCT: list[tuple[str, str, str, Any]] = [
    ("photos", "product.ask_photos", "product.help.photos", None),
    ("name", "product.ask_name", "product.help.name", "Keripik Tempe Pedas"),
    ("category", "product.category_suggest", "product.help.category", "ya"),
    ("price", "product.ask_price", "product.help.price", "25000"),
    ("stock", "product.ask_stock", "product.help.stock", "10"),
    ("min_order", "product.ask_min_order", "product.help.min_order", "1"),
    ("weight", "product.ask_weight", "product.help.weight", "250 gr"),
    ("description", "product.ask_description", "product.help.description", "pakai"),
    ("summary", "product.summary.title", "engine.help_general", None),
]
PRODUCT_SLOTS = {"name": "name", "description": "description"}
PRODUCT_OPTIONAL = {"min_order": "weight"}  # no minimum: any number may be bought
# Asked again once answered, these questions show what they have ("3 photos so far").
AGAIN = {"photos": "product.ask_more_photos", "description": "product.ask_description_current"}
# Clothes are asked whether they are new: the condition question, reached with a shirt.
CONDITION_PREFIX = [
    {"photos": ["sharp"]},
    {"send": "selesai"},
    {"send": "Kaos Batik Tulis"},
    {"send": "ya"},
    {"send": "75000"},
    {"send": "10"},
    {"send": "1"},
    {"send": "200 gr"},
]


def _turns(steps: list[tuple[str, str, str, Any]], upto: int) -> list[dict[str, Any]]:
    turns: list[dict[str, Any]] = []
    for _, _, _, answer in steps[:upto]:
        if answer is not None:
            turns.append({"send": answer})
    return turns


def _expect(
    flow: str,
    steps: list[tuple[str, str, str, Any]],
    index: int,
    word: str,
    optional: dict[str, str],
    slots: dict[str, str],
    cancelled: str,
) -> list[dict[str, Any]]:
    step, question, help_id, _ = steps[index]
    here = f"{flow}/{step}"
    turn: dict[str, Any] = {"send": word}
    if word == "batal" and index > 0:
        turn.update(expect=["engine.cancel_sure"], at=here)
        return [turn, {"send": "ya", "expect": [cancelled], "at": "None/None"}]
    if word == "batal":
        turn.update(expect=[cancelled], at="None/None")
    elif word == "kembali":
        if index == 0:
            turn.update(expect=["engine.back_at_start", question], at=here)
        else:
            previous = steps[index - 1]
            again = AGAIN.get(previous[0], previous[1]) if flow == "product" else previous[1]
            turn.update(expect=[again], at=f"{flow}/{previous[0]}")
    elif word == "bantuan":
        turn.update(expect=[help_id, question], at=here)
    elif word == "menu":
        turn.update(expect=["menu.question"], at="menu/choose")
    elif word == "ubah":
        nothing_yet = index == 0 or (flow == "product" and step == "photos")
        if nothing_yet or (flow == "registration" and step == "consent"):
            turn.update(expect=["engine.edit_nothing_yet", question], at=here)
        else:
            turn.update(expect=["engine.edit_which"], at=here)
    elif word == "lewati":
        if step in optional:
            nxt = optional[step]
            nxt_q = next(q for s, q, _, _ in steps if s == nxt)
            turn.update(expect=[nxt_q], at=f"{flow}/{nxt}")
        elif step == "summary":
            turn.update(expect=["engine.summary_unclear"], at=here)
        else:
            turn.update(expect=["engine.required", question], at=here)
    if step in slots and word != "batal" and word != "menu":
        turn["draft"] = {slots[step]: None}
    return [turn]


WORDS = ("batal", "kembali", "bantuan", "menu", "ubah", "lewati")


def registration() -> list[dict[str, Any]]:
    out = []
    for index, (step, question, _, _) in enumerate(REGISTRATION):
        for word in WORDS:
            turns = [{"send": "/start"}, *_turns(REGISTRATION, index)]
            turns[-1] = {**turns[-1], "expect": [question], "at": f"registration/{step}"}
            turns.extend(
                _expect(
                    "registration",
                    REGISTRATION,
                    index,
                    word,
                    REG_OPTIONAL,
                    REG_SLOTS,
                    "reg.cancelled",
                )
            )
            out.append({"name": f"{word} at registration {step}", "turns": turns})
    return out


def product() -> list[dict[str, Any]]:
    out = []
    for index, (step, _, _, _) in enumerate(PRODUCT):
        for word in WORDS:
            turns: list[dict[str, Any]] = []
            if index >= 1:  # one photo and "selesai" get past the photos
                turns = [{"photos": ["sharp"]}, {"send": "selesai"}, *_turns(PRODUCT, index)]
            expectation = _expect(
                "product",
                PRODUCT,
                index,
                word,
                PRODUCT_OPTIONAL,
                PRODUCT_SLOTS,
                "product.cancelled",
            )
            out.append(
                {
                    "name": f"{word} at product {step}",
                    "given": "registered",
                    "turns": [*turns, *expectation],
                }
            )
    for word in WORDS:
        expectation = _expect(
            "product",
            [
                *PRODUCT[:6],
                ("weight", "product.ask_weight", "", None),
                ("condition", "product.ask_condition", "product.help.condition", None),
            ],
            7,
            word,
            {},
            {},
            "product.cancelled",
        )
        out.append(
            {
                "name": f"{word} at product condition",
                "given": "registered",
                "turns": [*CONDITION_PREFIX, *expectation],
            }
        )
    return out


def main() -> None:
    for name, docs in (("registration", registration()), ("product", product())):
        path = HERE / f"global_words_{name}.yaml"
        header = "# Written by make_global_words.py: every global word at every step.\n"
        body = yaml.safe_dump_all(docs, allow_unicode=True, sort_keys=False, width=100)
        path.write_text(header + body, encoding="utf-8")


if __name__ == "__main__":
    main()
