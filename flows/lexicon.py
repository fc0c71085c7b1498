"""The words that are instructions, not data: read once from locales/<lang>/lexicon.toml.

Every locale's words work for everyone, so the lookups below merge them. The first word of
a command in a locale's file is the name Telegram's command menu shows in that language.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from flows.messages import Text, t

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
LOCALES = ("id", "en")

# Global words: they work at every step of every flow.
CANCEL, BACK, HELP, MENU, EDIT, SKIP = "cancel", "back", "help", "menu", "edit", "skip"
GLOBAL_WORDS = (CANCEL, BACK, HELP, MENU, EDIT, SKIP)
# Answer words a step may take: they are never stored as a name, a shop or an address.
ANSWER_WORDS = ("yes", "no", "done", "keep", "retake", "save")
# The questions whose answers are instructions (the menu's "tambah produk", a product's
# "hapus"): never a name either.
INSTRUCTION_ANSWERS = ("menu", "product_action", "erase")


@dataclass(frozen=True)
class MenuCommand:
    """A command in Telegram's menu: who sees it, and its description."""

    action: str
    role: str  # "everyone" | "facilitator" | "admin"
    description: Text


# Telegram's command menu, in order; names come from each locale's [commands].
MENU_COMMANDS = (
    MenuCommand("start", "everyone", t("command.start")),
    MenuCommand("menu", "everyone", t("command.menu")),
    MenuCommand(CANCEL, "everyone", t("command.cancel")),
    MenuCommand(BACK, "everyone", t("command.back")),
    MenuCommand(HELP, "everyone", t("command.help")),
    MenuCommand("my_data", "everyone", t("command.my_data")),
    MenuCommand("erase", "everyone", t("command.erase")),
    MenuCommand("language", "everyone", t("command.language")),
    MenuCommand("performance", "everyone", t("command.performance")),
    MenuCommand("register_owner", "facilitator", t("command.register_owner")),
    MenuCommand("my_owners", "facilitator", t("command.my_owners")),
    MenuCommand("stop_helping", "facilitator", t("command.stop_helping")),
    MenuCommand("broadcast", "admin", t("command.broadcast")),
    MenuCommand("dashboard", "facilitator", t("command.dashboard")),
    MenuCommand("dashboard", "admin", t("command.dashboard")),
)
# Commands that read what follows them: "/pendamping K7M2Q9XA", "kode 482913".
ARGUMENT_COMMANDS = ("join", "code")


_LEADING_SLASHES = re.compile(r"^/+")
_BOT_NAME = re.compile(r"^(\S+)@\w+")  # "/batal@PelapakBot"
_PUNCTUATION = re.compile(r"[^\w\s?']")


@lru_cache(maxsize=4096)  # one message is normalized several times on its way through
def normalize(text: str | None) -> str:
    """'/Batal@PelapakBot!' -> 'batal': lower case, no slash or bot name, single spaces."""
    if not text:
        return ""
    cleaned = unicodedata.normalize("NFKC", text).strip().lower()
    cleaned = _LEADING_SLASHES.sub("", cleaned)
    cleaned = _BOT_NAME.sub(r"\1", cleaned)
    cleaned = _PUNCTUATION.sub(" ", cleaned).replace("_", " ")
    return " ".join(cleaned.split())


@dataclass(frozen=True)
class Lexicon:
    words: Mapping[str, frozenset[str]]  # class -> phrases, every locale merged
    commands: Mapping[str, frozenset[str]]  # action -> phrases, every locale merged
    answers: Mapping[str, Mapping[str, frozenset[str]]]  # question -> option -> phrases
    leads: Mapping[str, tuple[str, ...]]  # question -> phrases before an answer, longest first
    command_names: Mapping[str, Mapping[str, str]]  # locale -> action -> /name

    def word_class(self, phrase: str, classes: tuple[str, ...]) -> str | None:
        """The first of `classes` whose words include the normalized phrase."""
        return next((c for c in classes if phrase in self.words.get(c, ())), None)

    def command(self, phrase: str) -> str | None:
        return next((a for a, ws in self.commands.items() if phrase in ws), None)

    def answer(self, question: str, phrase: str) -> str | None:
        """Which option of a question the words name ('bekas' -> 'used')."""
        options = self.answers.get(question, {})
        return next((o for o, ws in options.items() if phrase in ws), None)


def _read(locale: str) -> dict[str, Any]:
    with (LOCALES_DIR / locale / "lexicon.toml").open("rb") as f:
        return tomllib.load(f)


def _merge(tables: list[Mapping[str, list[str]]]) -> dict[str, frozenset[str]]:
    merged: dict[str, set[str]] = {}
    for table in tables:
        for key, phrases in table.items():
            merged.setdefault(key, set()).update(normalize(p) or p for p in phrases)
    return {key: frozenset(phrases) for key, phrases in merged.items()}


@cache
def lexicon() -> Lexicon:
    files = {locale: _read(locale) for locale in LOCALES}
    words = _merge([f.get("words", {}) for f in files.values()])
    commands = _merge([f.get("commands", {}) for f in files.values()])
    for word in (CANCEL, BACK, HELP, MENU):  # "/batal" is the word "batal"
        words = {**words, word: words.get(word, frozenset()) | commands.get(word, frozenset())}
    questions = {q for f in files.values() for q in f.get("answers", {})}
    answers = {
        q: _merge([f.get("answers", {}).get(q, {}) for f in files.values()]) for q in questions
    }
    names = {
        locale: {action: ws[0] for action, ws in f.get("commands", {}).items() if ws}
        for locale, f in files.items()
    }
    merged_leads = _merge([f.get("lead", {}) for f in files.values()])
    leads = {q: tuple(sorted(ps, key=len, reverse=True)) for q, ps in merged_leads.items()}
    return Lexicon(words, commands, answers, leads, names)


def words(word_class: str) -> frozenset[str]:
    """Every phrase of one class ('yes', 'skip', 'softener', ...) in every locale."""
    return lexicon().words.get(word_class, frozenset())


def command_name(action: str, locale: str) -> str:
    """The /name of a command in a locale's menu ('cancel' -> 'batal' in Indonesian)."""
    names = lexicon().command_names
    return names.get(locale, {}).get(action) or names["id"][action]


def without_lead(question: str, text: str) -> str:
    """The answer without what people write before it: 'nama saya Sri' -> 'Sri'."""
    for lead in lexicon().leads.get(question, ()):
        found = re.match(rf"\s*{re.escape(lead)}\b[\s:,.\-]*(?=\S)", text, re.IGNORECASE)
        if found:
            return text[found.end() :]
    return text


def after_agreeing(text: str) -> str:
    """What a yes names: 'wah iyo, yowis Keripik Bu Sri wae' -> 'Keripik Bu Sri'.

    Only when the yes is plainly set apart from the rest: by a comma ('iya mbak, Mbak Yuni')
    or by a closing 'wae', 'aja', 'saja' ('yowis Sri wae': take Sri). Otherwise the text is
    returned as it is ('Oke Jaya' alone may be a name), and so is a message of yes and soft
    words only ('wah iyo').
    """
    said = text.split()
    agreeing, yes = words("yes") | words("softener"), words("yes")
    cut, saw_yes, position = 0, False, 0
    while position < len(said) and normalize(said[position]) in agreeing:
        if normalize(said[position]) in yes:
            saw_yes, cut = True, position + 1
        if said[position][-1] in ",.;:!":  # the yes ends here: 'iya mbak, Mbak Yuni'
            cut = position + 1
        position += 1
    rest = said[cut:]
    closing = words("filler")
    set_apart = cut > 0 and said[cut - 1][-1] in ",.;:!"
    closed = len(rest) > 1 and normalize(rest[-1]) in closing
    pointing = agreeing | words("offer_reference")
    if not saw_yes or not (set_apart or closed) or all(normalize(w) in pointing for w in rest):
        return text  # 'ya, itu aja' points at what was offered: read as it is
    return without_closing(" ".join(rest))


def without_closing(text: str) -> str:
    """ "Keripik Bu Sri wae" -> "Keripik Bu Sri": the "just" said after what a yes takes."""
    said = text.split()
    while len(said) > 1 and normalize(said[-1]) in words("filler"):
        said = said[:-1]
    return " ".join(said).strip(" ,.;:-")


def looks_english(text: str | None) -> bool:
    """True when a message is mostly English words ('hello, I want to sell online')."""
    said = normalize(text).split()
    english = [w for w in said if w in words("english")]
    return len(english) >= 2 and len(english) * 5 >= len(said) * 2


def an_instruction(text: str) -> bool:
    """True when the text is one of the lexicon's words or phrases (an answer, an instruction,
    a filler), a command or a menu phrase ("tambah produk", "hapus"): never a name, whatever
    lead came before it ("namanya Lanjut")."""
    lex = lexicon()
    phrase = normalize(text)
    if lex.word_class(phrase, tuple(lex.words)) is not None or lex.command(phrase):
        return True
    return any(lex.answer(question, phrase) for question in INSTRUCTION_ANSWERS)
