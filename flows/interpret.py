"""One message -> one typed utterance, computed once before any step sees it.

The router and the engine dispatch on these values with `match`; a step's reader gets the
utterance in its context, so no code re-reads raw text for "ya", "lewati" or a command.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache

from rapidfuzz import fuzz

from flows.lexicon import (
    ANSWER_WORDS,
    ARGUMENT_COMMANDS,
    BACK,
    CANCEL,
    EDIT,
    GLOBAL_WORDS,
    HELP,
    MENU,
    SKIP,
    lexicon,
    normalize,
    words,
)
from flows.messages import Choice, Inbound, Location, PhotoRef, RejectedPhoto, Text
from flows.parsing import parse_yes_no


@dataclass(frozen=True)
class GlobalWord:
    """batal, kembali, bantuan, menu, ubah (with what follows: 'ubah harga'), lewati."""

    kind: str
    rest: str = ""  # as typed: "ubah harga jadi 30rb" -> "harga jadi 30rb"
    means_no: bool = False  # "gak ada" skips, and also answers a yes/no question with no
    correction: bool = False  # "eh salah, ...": fixes an earlier answer if it names one


@dataclass(frozen=True)
class Command:
    """A command with its argument: /start <payload>, /pendamping <invite>, /hapus_data."""

    action: str
    argument: str = ""
    slash: bool = False


@dataclass(frozen=True)
class Yes:
    pure: bool = True  # False: "ya, Budi Santoso" says more than yes


@dataclass(frozen=True)
class No:
    pure: bool = True


@dataclass(frozen=True)
class Picked:
    """One of the offered choices, by button, number, label or a close match."""

    id: str


@dataclass(frozen=True)
class Keyword:
    """An answer word with a meaning of its own: done, keep, retake, save (or filler)."""

    kind: str


@dataclass(frozen=True)
class Photos:
    photos: tuple[PhotoRef, ...]
    rejected: tuple[RejectedPhoto, ...]


@dataclass(frozen=True)
class Contact:
    phone: str


@dataclass(frozen=True)
class Pin:
    """A shared location, maybe with a caption."""

    location: Location
    text: str = ""


@dataclass(frozen=True)
class Unsupported:
    kind: str  # "voice", "sticker", "video", "document", ...


@dataclass(frozen=True)
class FreeText:
    text: str


@dataclass(frozen=True)
class Nothing:
    """An empty message."""


Utterance = (
    GlobalWord
    | Command
    | Yes
    | No
    | Picked
    | Keyword
    | Photos
    | Contact
    | Pin
    | Unsupported
    | FreeText
    | Nothing
)

Render = Callable[[Text | str], str]

# Word lists that describe how people write rather than what they ask for.
# Word lists that only help read a message ("kak" around an invite code, "berapa" in a
# question), never an instruction of their own.
_NOT_INSTRUCTIONS = (
    "english",
    "softener",
    "person_word",
    "but",
    "filler",
    "should",
    "question",
    "invite",
)
# Answer words still meant with a softener around them: "terserah aja kak".
_SOFTENED = (
    "whatever",
    "restart",
    "dont_know",
    "save",
    "later",
)  # "nanti aja kak"  # "simpen kak", "disimpan aja"
_YES_NO_IDS: dict[str, Utterance] = {"yes": Yes(), "no": No()}
# Qualifiers people abbreviate in a choice label ("kab malang" for "Kabupaten Malang").
_EXPAND = {
    "kab": "kabupaten",
    "kabupatn": "kabupaten",
    "kodya": "kota",
    "kotamadya": "kota",
    "kec": "kecamatan",
    "pake": "pakai",  # "pake nomer lain" is the button "Pakai nomor lain"
    "nomer": "nomor",
    # Javanese: "jenenge tokone" is "nama tokonya", "alamate" "alamatnya"
    "jeneng": "nama",
    "jenenge": "nama",
    "tokone": "toko",
    "alamate": "alamat",
    "kecamatane": "kecamatan",
    "regane": "harga",
    "regone": "harga",
}


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")
MAX_TEXT = 4096  # longer than any answer; a platform's own limit is about this


def cleaned(inbound: Inbound) -> Inbound:
    """The message without control characters (a NUL cannot be stored) and not too long."""
    text = inbound.text if isinstance(inbound.text, str) else None
    if text is not None:
        text = _CONTROL.sub("", text)[:MAX_TEXT]
    if text == inbound.text:
        return inbound
    return replace(inbound, text=text)


def interpret(
    inbound: Inbound, choices: tuple[Choice, ...] = (), render: Render = str, loose: bool = True
) -> Utterance:
    """What the person said, in one typed value."""
    if inbound.choice:
        return _from_choice_id(inbound.choice)
    if inbound.photos or inbound.rejected_photos:
        return Photos(inbound.photos, inbound.rejected_photos)
    if inbound.contact_phone:
        return Contact(inbound.contact_phone)
    text = inbound.text if isinstance(inbound.text, str) else ""
    if inbound.location:
        return Pin(inbound.location, " ".join(text.split()))
    if inbound.unsupported:
        return Unsupported(inbound.unsupported)
    if not text.strip():
        return Nothing()
    return read_text(text, choices, render, loose)


def read_text(
    text: str, choices: tuple[Choice, ...] = (), render: Render = str, loose: bool = True
) -> Utterance:
    """Typed text: a command, a global word, a choice, yes or no, an answer word, or data."""
    phrase = normalize(text)
    command = _command(text, phrase)
    if command is not None:
        return command
    labels = _labels(choices, render)
    labelled = _exact_choice(phrase, choices, labels) if not phrase.isdigit() else None
    if labelled is not None:  # the label of a button on screen ("Ubah", "Hapus") wins
        return _from_choice_id(labelled)
    instruction = _global_word(text, phrase)
    if instruction is not None:
        return instruction
    if _keeps_old(phrase):  # "eh ga jadi, tetap yang lama": never "no" to the "betul?"
        return Keyword("keep_old")
    picked = _numbered_choice(phrase, choices)
    if picked is None and loose and choices and phrase:
        picked = _close_choice(_tokens(phrase), choices, labels)
        if picked is None and parse_yes_no(text) is None:
            picked = _in_one_label(phrase, choices, render)
    if picked is not None:
        return _from_choice_id(picked)
    return _answer_word(text, phrase)


def _global_word(text: str, phrase: str) -> GlobalWord | None:
    """batal, kembali..., "ubah harga 30rb", or a correction: "eh salah, harganya 22rb"."""
    lex = lexicon()
    word = lex.word_class(phrase, GLOBAL_WORDS) or lex.word_class(
        without_softeners(phrase), (CANCEL, BACK, HELP, MENU, SKIP)
    )  # "batal kak", "lewati aja": still the instruction, never a shop named "Batal Kak"
    if word is not None:
        return GlobalWord(word, means_no=parse_yes_no(text) is False)
    head, _, rest = phrase.partition(" ")
    if rest and head in lex.words.get(EDIT, ()):
        return GlobalWord(EDIT, _after_words(text, 1))
    marker = _leading(phrase, lex.words.get("correction", frozenset()))
    if marker and len(phrase.split()) > marker and not _only_no(phrase.split()[marker:]):
        return GlobalWord(EDIT, _meant(_after_words(text, marker)), correction=True)
    return None


# "..., Dewi Lestari maksudnya": said after the right answer, not part of it.
_MEANT_AFTER = re.compile(
    r"[\s,.]+(maksudnya|maksud\s+(saya|sy|aku)|maksudku|i mean)[\s.!]*$", re.IGNORECASE
)


def _meant(rest: str) -> str:
    """What a correction says is right: "harusnya Dewi Lestari", "Dewi Lestari maksudnya" ->
    "Dewi Lestari" (the words saying so were stored with the name)."""
    rest = _MEANT_AFTER.sub("", rest)
    said = rest.split()
    should = words("should")
    for n in (3, 2, 1):
        if len(said) > n and normalize(" ".join(said[:n])).strip(",.:") in should:
            return " ".join(said[n:]).strip(" ,.:;-")
    return rest


def _keeps_old(phrase: str) -> bool:
    """ "Tetap yang lama", maybe after a "gak jadi" or an "eh": the old answer is kept."""
    said = without_softeners(phrase).split()
    cancel = lexicon().words.get(CANCEL, frozenset())
    start = next((n for n in (3, 2, 1) if " ".join(said[:n]) in cancel), 0)
    rest = " ".join(said[start:])
    return bool(rest) and rest in _keep_old_words()


@cache
def _keep_old_words() -> frozenset[str]:
    return frozenset(without_softeners(p) for p in lexicon().words.get("keep_old", ()))


def _only_no(typed: list[str]) -> bool:
    """ "jangan", "kak" after "eh" or "salah": the whole message is a no, fixing nothing."""
    rest = " ".join(typed)
    return not without_softeners(rest) or parse_yes_no(rest) is False


def without_softeners(phrase: str) -> str:
    softeners = lexicon().words.get("softener", frozenset())
    return " ".join(w for w in phrase.split() if w not in softeners)


def _answer_word(text: str, phrase: str) -> Utterance:
    """Yes, no, an answer word (selesai, pakai, simpan), a filler, or free text."""
    lex = lexicon()
    answer = lex.word_class(phrase, ANSWER_WORDS)
    if answer in ("yes", "no"):
        return Yes() if answer == "yes" else No()
    if answer is not None:
        return Keyword(answer)
    other = lex.word_class(phrase, tuple(c for c in lex.words if c not in _NOT_INSTRUCTIONS))
    other = other or lex.word_class(without_softeners(phrase), _SOFTENED)  # "terserah kak"
    said = parse_yes_no(text)
    if other is not None and not (other == "correction" and said is False):  # "eh salah": no
        return Keyword(other)  # "kirim sekarang": an instruction somewhere, data nowhere
    softeners = lex.words.get("softener", frozenset())
    if said is not None:
        plain = lex.words.get("yes", frozenset()) | lex.words.get("no", frozenset())
        pure = all(w in plain or w in softeners for w in phrase.split())
        return Yes(pure) if said else No(pure)
    if _only_filler(phrase):
        return Keyword("filler")  # "kak", "mas", "saya": a way of speaking, not an answer
    return FreeText(" ".join(text.split()))


def _only_filler(phrase: str) -> bool:
    """True when every word is a softener, a pronoun, an honorific or filler ("mbak", "saya").
    Alone they are never a name: "Ibu" is no owner's name; a shop is "Warung Pakde"."""
    filler = lexicon().words.get("softener", frozenset()) | lexicon().words.get(
        "person_word", frozenset()
    )
    return all(w in filler for w in phrase.split())


def _leading(phrase: str, phrases: frozenset[str]) -> int:
    """How many words at the start of the phrase are one of `phrases` (longest first)."""
    words = phrase.split()
    return next((n for n in range(min(3, len(words)), 0, -1) if " ".join(words[:n]) in phrases), 0)


def _after_words(text: str, count: int) -> str:
    """The typed text after its first `count` words, punctuation around them dropped."""
    parts = text.strip().split(None, count)
    return parts[count].strip(" ,.:;-") if len(parts) > count else ""


def _from_choice_id(choice: str) -> Utterance:
    if choice.startswith("__") and choice.strip("_") in GLOBAL_WORDS:
        return GlobalWord(choice.strip("_"))
    return _YES_NO_IDS.get(choice) or Picked(choice)


_START = re.compile(r"/start(?:@\w+)?(?:\s+(\S+))?\s*", re.IGNORECASE)
_DEEP_LINK = re.compile(r"[A-Za-z0-9_-]{1,64}")  # what t.me/<bot>?start= may carry
_WITH_ARGUMENT = re.compile(r"(/)?(\S+?)(?:@\w+)?(?:[\s:]+(.*))?", re.DOTALL)
_INVITE = re.compile(r"[A-Za-z0-9]{6,16}")
_CODE = re.compile(r"\d(?:[\s.\-]?\d){5}")


def _command(text: str, phrase: str) -> Command | Keyword | None:
    stripped = text.strip()
    start = _START.fullmatch(stripped)
    if start or phrase == "start":
        payload = (start and start.group(1)) or ""
        return Command("start", payload if _DEEP_LINK.fullmatch(payload) else "", slash=True)
    lex = lexicon()
    action = lex.command(phrase)
    if action is not None and action not in ARGUMENT_COMMANDS and action not in GLOBAL_WORDS:
        return Command(action, slash=stripped.startswith("/"))
    for word in ("opt_out", "opt_in"):
        if phrase in lex.words.get(word, ()):
            return Command(word)
    found = _WITH_ARGUMENT.fullmatch(stripped)
    if found is None:
        return None
    action = lex.command(normalize(found.group(2)))
    argument, slash = (found.group(3) or "").strip(), bool(found.group(1))
    if action not in ARGUMENT_COMMANDS:
        return None
    # Without the slash only when the rest looks like one, so "Kode Kopi" stays a shop name.
    looks_right = _INVITE if action == "join" else _CODE
    if slash or looks_right.fullmatch(argument):
        return Command(str(action), argument, slash=slash)
    return Keyword("command") if not argument else None  # a bare "kode" is no name either


def pick_choice(
    phrase: str, choices: tuple[Choice, ...], render: Render = str, loose: bool = True
) -> str | None:
    """The id of the choice a typed number, label or close match names; None when unsure.

    `loose` also takes part of a label and close misspellings; a question whose answer is
    free text (a name) takes only the whole label, so "Sri" is not the offered "Sri Wahyuni".
    """
    if not choices or not phrase:
        return None
    if phrase.isdigit():
        return _numbered_choice(phrase, choices)
    labels = _labels(choices, render)
    exact = _exact_choice(phrase, choices, labels)
    if exact is None and loose:
        return _close_choice(_tokens(phrase), choices, labels)
    return exact


def _labels(choices: tuple[Choice, ...], render: Render) -> list[list[str]]:
    """Each choice's label as the words compared with what was typed (rendered once)."""
    return [_tokens(normalize(render(c.label))) for c in choices]


def _numbered_choice(phrase: str, choices: tuple[Choice, ...]) -> str | None:
    if not phrase.isdigit() or len(phrase) > 3:
        return None
    number = int(phrase)
    return choices[number - 1].id if 1 <= number <= len(choices) else None


def _exact_choice(phrase: str, choices: tuple[Choice, ...], labels: list[list[str]]) -> str | None:
    """The choice whose whole label (in any word order) or id was typed."""
    typed = sorted(_tokens(phrase))
    return next(
        (
            c.id
            for c, label in zip(choices, labels, strict=True)
            if typed == sorted(label) or phrase == c.id
        ),
        None,
    )


def _close_choice(
    typed: list[str], choices: tuple[Choice, ...], labels: list[list[str]]
) -> str | None:
    """Part of one label ("kab malang", "kota"), or one label clearly closest to a typo."""
    containing = [c for c, label in zip(choices, labels, strict=True) if set(typed) <= set(label)]
    if len(containing) == 1 and len(" ".join(typed)) >= 3:
        return containing[0].id
    scored = sorted(
        (
            (fuzz.token_sort_ratio(" ".join(typed), " ".join(label)), c)
            for c, label in zip(choices, labels, strict=True)
        ),
        key=lambda sc: -sc[0],
    )
    best = scored[0]
    if best[0] >= 85 and (len(scored) == 1 or scored[1][0] < best[0] - 5):
        return best[1].id
    return None


def _in_one_label(phrase: str, choices: tuple[Choice, ...], render: Render) -> str | None:
    """The one label holding every word typed, softeners included: "nama" -> "Nama produk"
    (the comparison above leaves "nama" out of both, as it leaves out "kak" and "aja"), but
    never for pronouns, honorifics and filler alone."""
    typed = set(phrase.split())
    if typed <= lexicon().words.get("person_word", frozenset()):
        return None  # "saya" is not "Produk saya", "mbak" not "Warung Mbak Yuni"
    holding = [c for c in choices if typed <= set(normalize(render(c.label)).split())]
    return holding[0].id if len(holding) == 1 and len(phrase) >= 3 else None


def _tokens(phrase: str) -> list[str]:
    """Words to compare with a label: abbreviations spelled out, "yg" and "kak" left out."""
    words = [_EXPAND.get(w, w) for w in phrase.split()]
    words = [w[:-3] if w.endswith("nya") and len(w) > 5 else w for w in words]  # harganya
    softeners = lexicon().words.get("softener", frozenset())
    return [w for w in words if w not in softeners] or words
