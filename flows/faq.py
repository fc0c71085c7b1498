"""Questions every owner asks sooner or later ("berapa biayanya?", "ini aman?", "kapan
produk saya tayang?", "gimana caranya?"), answered wherever they are asked, then what is open
asked again. Without this they got the open question's help, which answers something else."""

from __future__ import annotations

import re

from flows.lexicon import lexicon, normalize, words
from flows.messages import Inbound, Text, t

TOPICS = {
    "cost": t("faq.cost"),
    "safety": t("faq.safety"),
    "when_live": t("faq.when_live"),
    "how": t("faq.how"),
}
_WORD = re.compile(r"[^\W_]+")
_LONGEST = 12  # words: a longer message is about something else, whatever it mentions


def common_question(inbound: Inbound, free_text: bool) -> Text | None:
    """The answer to a common question the message asks, or None. Where the open question
    takes free text (a name, an address, a description) only a message ending in "?" counts:
    "Toko Aman Jaya" or "gratis ongkir" there is an answer, not a question."""
    text = inbound.text or ""
    said = _WORD.findall(normalize(text))
    if not said or len(said) > _LONGEST:
        return None
    asked = text.rstrip(" !🙏").endswith(("?", "？"))
    if not asked and (free_text or not set(said) & words("question")):
        return None
    topics = lexicon().answers.get("faq", {})
    for topic, phrases in topics.items():
        if any(_contains(said, phrase.split()) for phrase in phrases):
            return TOPICS.get(topic)
    return None


def _contains(said: list[str], phrase: list[str]) -> bool:
    n = len(phrase)
    return any(said[i : i + n] == phrase for i in range(len(said) - n + 1))
