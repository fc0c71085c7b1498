"""When an admin wants a broadcast sent, read the way they say it, in WIB.

"09:00", "besok 9.30", "30/11 08:00", "jam 3 sore", "besok jam 3 sore", "nanti sore", "senin
08:00", "kamis pagi": a day (a date, besok/lusa or a weekday) and a time of day (a clock time,
a part of the day, or both). "jam 3 sore" is 15:00; "jam 3" alone is 03:00, which the preview
points out as night (when 03:00 has passed today and 15:00 has not, /siaran asks which:
`evening_instead`). A day without a time ("rabu") is `day_without_time`. Anything else in
the message makes it unreadable, so a sentence is never read as a time by the numbers in it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

WIB = timezone(timedelta(hours=7))  # Western Indonesia keeps no summer time
LATEST = timedelta(days=60)  # the furthest ahead a broadcast may be planned
NIGHT = (21, 7)  # from 21:00 to 07:00 WIB people are asleep: a planned send there is pointed out

_DATE = re.compile(r"\b(\d{1,2})[/-](\d{1,2})(?:[/-](\d{2,4}))?\b")
_CLOCK = re.compile(r"(?:jam|pukul|pkl\.?)?(\d{1,2})(?:[.:](\d{2}))?(?:wib)?")
_DAYS_AHEAD = {"besok": 1, "besuk": 1, "lusa": 2, "tomorrow": 1, "today": 0}
_WEEKDAYS = {
    "senin": 0,
    "selasa": 1,
    "rabu": 2,
    "kamis": 3,
    "jumat": 4,
    "sabtu": 5,
    "minggu": 6,
    "ahad": 6,
    "monday": 0,
    "tuesday": 1,
    "wednesday": 2,
    "thursday": 3,
    "friday": 4,
    "saturday": 5,
    "sunday": 6,
}
# a part of the day alone means its usual hour ("nanti sore": 16:00)
_PARTS = {"pagi": 8, "siang": 12, "sore": 16, "malam": 19, "morning": 8, "afternoon": 15}
_FILLER = {
    "jam",
    "pukul",
    "pkl",
    "pkl.",
    "hari",
    "ini",
    "nanti",
    "tgl",
    "tanggal",
    "tepat",
    "pada",
    "at",
    "on",
    "wib",
    "aja",
    "saja",
    "ya",
    "kak",
    # "kirim besok jam 7 pagi", "tolong dikirim lusa jam 4 sore"
    "kirim",
    "dikirim",
    "kirimkan",
    "kirimnya",
    "tolong",
}
# After a weekday: "senin depan" is the next Monday (a week on when today is Monday).
_NEXT = {"depan", "besok", "next"}
# "minggu depan" is "next week" as often as "next Sunday": never read as either.
_WEEK = "minggu"
# Said at the end of a word ("pagi.", "sore!"), never a clock's dot ("9.30").
_END_MARK = re.compile(r"[.!?]+(?=\s|$)")


@dataclass
class _Said:
    days_ahead: int | None = None
    weekday: int | None = None
    part: str | None = None
    hour: int | None = None
    minute: int = 0
    following: bool = False  # "senin depan": not today, even before the time


def parse_send_time(text: str, now: datetime) -> datetime | None:
    """The moment meant (UTC), or None if unreadable.

    A time of day that has passed today means tomorrow; a weekday means the next one still
    ahead. A day and month without a year that has passed means next year only when that is
    soon ('5/1' in December); yesterday's date stays yesterday's, for the caller to refuse as
    past rather than send a year late.
    """
    words = _plain(text)
    date = _DATE.search(words)
    if date is not None:
        words = words[: date.start()] + " " + words[date.end() :]
    said = _read_words(words.split())
    if said is None or (said.hour is None and said.part is None):
        return None
    hour = _hour_in_part(said.hour, said.part)
    if hour is None or said.minute > 59:
        return None
    local_now = now.astimezone(WIB)
    try:
        if date is not None:
            if said.days_ahead is not None or said.weekday is not None:
                return None  # "besok 30/11": which one?
            return _on_date(date, hour, said.minute, local_now).astimezone(UTC)
        at = local_now.replace(hour=hour, minute=said.minute, second=0, microsecond=0)
    except ValueError:
        return None
    if said.weekday is not None and said.days_ahead is not None:
        if (local_now.weekday() + said.days_ahead) % 7 != said.weekday:
            return None  # "besok senin" on a Thursday: which one?
        said.weekday = None
    return _on_day(at, said, local_now).astimezone(UTC)


def day_without_time(text: str) -> bool:
    """ "Rabu", "besok", "30/11": a day ahead but no time of day (nor anything else)."""
    words = _plain(text)
    date = _DATE.search(words)
    if date is not None:
        words = words[: date.start()] + " " + words[date.end() :]
    said = _read_words(words.split())
    if said is None or said.hour is not None or said.part is not None:
        return False
    return date is not None or said.weekday is not None or bool(said.days_ahead)


def evening_instead(text: str, now: datetime) -> datetime | None:
    """ "Jam 7" alone at 11:08: 07:00 has passed today, and 19:00 tonight may be meant as
    well as 07:00 tomorrow. The afternoon or evening one (UTC) when a bare hour from 1 to 11,
    with no day and no part of the day, has passed today and its twin after noon is still
    ahead before the night; None when the time says which."""
    words = _plain(text).split()
    said = _read_words(words)
    clock = next((_CLOCK.fullmatch(w) for w in words if _CLOCK.fullmatch(w)), None)
    if said is None or said.hour is None or said.part is not None or clock is None:
        return None
    if said.days_ahead is not None or said.weekday is not None or clock[1].startswith("0"):
        return None  # a day said, or "07:00": a 24-hour clock
    if not 1 <= said.hour <= 11 or _DATE.search(" ".join(words)):
        return None
    local_now = now.astimezone(WIB)
    morning = local_now.replace(hour=said.hour, minute=said.minute, second=0, microsecond=0)
    evening = morning + timedelta(hours=12)
    if morning > local_now or evening <= local_now or at_night(evening):
        return None
    return evening.astimezone(UTC)


def at_night(at: datetime) -> bool:
    hour = at.astimezone(WIB).hour
    return hour >= NIGHT[0] or hour < NIGHT[1]


def _plain(text: str) -> str:
    """Lower case, single spaces, no commas and no marks closing a word ("Besok, jam 7.")."""
    text = text.lower().replace("jum'at", "jumat").replace(",", " ")
    return " ".join(_END_MARK.sub(" ", text).split())


def _read_words(words: list[str]) -> _Said | None:
    said = _Said()
    for before, word in zip(["", *words], words, strict=False):
        clock = _CLOCK.fullmatch(word)
        if word in _FILLER:
            continue
        if word in _NEXT and before in _WEEKDAYS and before != _WEEK and not said.following:
            said.following = True  # "senin depan"; "senin besok" is read the same
            continue
        if word in _DAYS_AHEAD and said.days_ahead is None:
            said.days_ahead = _DAYS_AHEAD[word]
        elif word in _WEEKDAYS and said.weekday is None:
            said.weekday = _WEEKDAYS[word]
        elif word in _PARTS and said.part is None:
            said.part = word
        elif clock is not None and said.hour is None:
            said.hour, said.minute = int(clock[1]), int(clock[2] or 0)
        else:
            return None  # a word that is no part of a time, or a second day or time
    return said


def _hour_in_part(hour: int | None, part: str | None) -> int | None:
    """The hour on the clock: "3 sore" is 15, "1 siang" 13, "7 malam" 19, "12 malam" 0."""
    if hour is None:
        return _PARTS[part] if part else None
    if hour > 23:
        return None
    if part is None:
        return hour
    if hour > 12:  # a 24-hour clock with its part of the day ("15.00 sore"): they must agree
        return hour if _fits(hour, part) else None
    if part in ("pagi", "morning"):
        return 0 if hour == 12 else hour
    if part == "malam":
        return 0 if hour == 12 else hour + 12 if hour >= 6 else hour
    if part == "siang":
        return hour + 12 if hour < 10 else hour
    return hour + 12 if hour < 12 else hour  # sore, afternoon


def _fits(hour: int, part: str | None) -> bool:
    """A 24-hour clock with its part of the day ("15.00 sore") agrees with it."""
    spans = {"siang": (10, 15), "sore": (14, 19), "afternoon": (12, 18), "malam": (18, 24)}
    low, high = spans.get(part or "", (0, 12))
    return low <= hour < high


def _on_date(date: re.Match[str], hour: int, minute: int, local_now: datetime) -> datetime:
    day, month, year = date.groups()
    full_year = int(year) + (2000 if len(year) == 2 else 0) if year else None
    at = datetime(full_year or local_now.year, int(month), int(day), hour, minute, tzinfo=WIB)
    if full_year is None and at < local_now:
        next_year = at.replace(year=at.year + 1)
        if next_year - local_now <= LATEST:
            return next_year
    return at


def _on_day(at: datetime, said: _Said, local_now: datetime) -> datetime:
    if said.weekday is not None:
        ahead = (said.weekday - local_now.weekday()) % 7
        at += timedelta(days=ahead or (7 if said.following else 0))
        return at + timedelta(days=7) if at <= local_now else at
    if said.days_ahead is not None:
        return at + timedelta(days=said.days_ahead)
    return at + timedelta(days=1) if at <= local_now else at
