"""Plain-text helpers shared by the planner and the voices: sentences, words, speakable text.

Splitting is done here, not by the TTS engine, so the planner, the voice and
the captions all agree on where a sentence starts and ends.
"""

from __future__ import annotations

import re
from functools import lru_cache

import pysbd
from num2words import num2words

_ABBREVIATIONS = {
    "Dr.": "Doctor",
    "Mr.": "Mister",
    "Mrs.": "Missus",
    "Ms.": "Miz",
    "Prof.": "Professor",
    "St.": "Saint",
    "vs.": "versus",
    "etc.": "et cetera",
    "e.g.": "for example",
    "i.e.": "that is",
    "approx.": "approximately",
}
_CURRENCY = {"$": ("dollar", "cent"), "€": ("euro", "cent"), "£": ("pound", "penny")}
_MONEY = re.compile(r"([$€£])\s?(\d[\d,]*)(?:\.(\d{1,2}))?\b")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s?%")
_NUMBER = re.compile(r"\b\d[\d,]*(?:\.\d+)?\b")
_YEAR = re.compile(r"^(1[1-9]|20)\d\d$")
_WORD = re.compile(r"[\w'’-]+", re.UNICODE)


@lru_cache(maxsize=4)
def _segmenter(language: str) -> pysbd.Segmenter:
    return pysbd.Segmenter(language=language, clean=False)


def split_sentences(text: str, language: str = "en") -> list[str]:
    """Sentences of `text`, whitespace-normalised, abbreviations like "Dr." kept inside."""
    flat = " ".join(text.split())
    if not flat:
        return []
    return [s.strip() for s in _segmenter(language).segment(flat) if s.strip()]


def split_paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def words(text: str) -> list[str]:
    """The words as shown in captions (punctuation kept attached)."""
    return text.split()


def count_words(text: str) -> int:
    return len(_WORD.findall(text))


def _number_words(raw: str, language: str) -> str:
    plain = raw.replace(",", "")
    if _YEAR.match(plain):
        return str(num2words(int(plain), lang=language, to="year"))
    value: int | float = float(plain) if "." in plain else int(plain)
    return str(num2words(value, lang=language))


def _money_words(match: re.Match[str], language: str) -> str:
    unit, sub_unit = _CURRENCY[match.group(1)]
    whole = int(match.group(2).replace(",", ""))
    spoken = f"{num2words(whole, lang=language)} {unit}{'' if whole == 1 else 's'}"
    if match.group(3):
        cents = int(match.group(3).ljust(2, "0"))
        if cents:
            plural = "pence" if sub_unit == "penny" else f"{sub_unit}s"
            spoken += f" and {num2words(cents, lang=language)} {sub_unit if cents == 1 else plural}"
    return spoken


def speakable(sentence: str, language: str = "en") -> str:
    """Rewrite what TTS engines misread: abbreviations, money, percentages, numbers.

    Piper reads "$5.50" as "dollar five point five zero"; this makes it
    "five dollars and fifty cents".
    """
    text = sentence
    for short, long in _ABBREVIATIONS.items():
        text = text.replace(short, long)
    text = _MONEY.sub(lambda m: _money_words(m, language), text)
    text = _PERCENT.sub(lambda m: f"{_number_words(m.group(1), language)} percent", text)
    return _NUMBER.sub(lambda m: _number_words(m.group(0), language), text)
