"""Korean and English side by side: bilingual messages and Korean particles.

The Korean and English notebooks share identical code, so what the course
prints is chosen when it runs, by :func:`lesson_language`: the Korean notebook
prints Korean (``say``, ``ko_en``), the English one English. Where the language
cannot be known (Colab, whose kernel does not know which notebook it runs; a
script) a message shows both languages, Korean first, and a label shows
English. Errors the course raises are always bilingual (:func:`bilingual`): an
error can travel far from the notebook that caused it.

Korean particles depend on how the word before them *sounds*: 은/이/을/과/으로
after a final consonant (받침), 는/가/를/와/로 after a vowel, and 로 also after
ㄹ. ``josa("17", "은/는")`` gives ``"17은"`` because 17 is read 십칠; ``40`` is
read 사십 and takes 은 too, ``457`` (사백오십칠) takes 이. Numbers are read as
Sino-Korean numerals, Latin letters and words by their English names, the way
a Korean instructor would say them aloud. Used by ``checks`` in every notebook.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

# The pairs this module knows, written (after a consonant, after a vowel).
_PAIRS = {
    "은/는": ("은", "는"),
    "이/가": ("이", "가"),
    "을/를": ("을", "를"),
    "과/와": ("과", "와"),
    "으로/로": ("으로", "로"),
    "이다/다": ("이다", "다"),
    "이에요/예요": ("이에요", "예요"),
    "이라고/라고": ("이라고", "라고"),
}

_HANGUL_FIRST, _HANGUL_LAST = 0xAC00, 0xD7A3
_RIEUL = 8  # index of ㄹ among the final consonants

# How the last digit of a number is read (일 이 삼 사 오 육 칠 팔 구), and the
# units that a number ending in zeros is read with (십 백 천 만 억 조).
_DIGIT_SOUND = {"0": "영", "1": "일", "2": "이", "3": "삼", "4": "사", "5": "오",
                "6": "육", "7": "칠", "8": "팔", "9": "구"}
_ZERO_UNITS = [(12, "조"), (8, "억"), (4, "만"), (3, "천"), (2, "백"), (1, "십")]

# Latin letters read aloud in Korean (에이, 비, 씨, ...): only the final sound matters.
_LETTER_SOUND = {
    "a": "에이", "b": "비", "c": "씨", "d": "디", "e": "이", "f": "에프", "g": "지", "h": "에이치",
    "i": "아이", "j": "제이", "k": "케이", "l": "엘", "m": "엠", "n": "엔", "o": "오", "p": "피",
    "q": "큐", "r": "알", "s": "에스", "t": "티", "u": "유", "v": "브이", "w": "더블유", "x": "엑스",
    "y": "와이", "z": "제트",
}
# Symbols and units that end what a Korean reader says (percent, dollar, ...).
_SYMBOL_SOUND = {"%": "퍼센트", "$": "달러", "°": "도", "+": "플러스", "×": "곱하기", "/": "슬래시"}
_UNIT_SOUND = {"mb": "메가바이트", "gb": "기가바이트", "kb": "킬로바이트", "tb": "테라바이트",
               "b": "바이트", "ms": "밀리초", "s": "초", "k": "케이", "m": "엠"}


def _final_of(syllable: str) -> int | None:
    """The final-consonant index of a Hangul syllable (0 = none), or None if not Hangul."""
    code = ord(syllable)
    if _HANGUL_FIRST <= code <= _HANGUL_LAST:
        return (code - _HANGUL_FIRST) % 28
    return None


def _number_sound(digits: str) -> str:
    """The syllable a Sino-Korean reading of an integer ends with."""
    digits = digits.lstrip("0") or "0"
    if digits == "0":
        return "영"
    if digits[-1] != "0":
        return _DIGIT_SOUND[digits[-1]]
    zeros = len(digits) - len(digits.rstrip("0"))
    for power, unit in _ZERO_UNITS:
        if zeros >= power:
            return unit
    return "십"


def _english_sound(word: str) -> str:
    """A rough Korean ending for an English word or acronym, enough to choose a particle."""
    w = word.lower()
    if w in _UNIT_SOUND:
        return _UNIT_SOUND[w]
    if (len(w) <= 4 and word.isupper()) or len(w) == 1:  # an acronym is read letter by letter
        return _LETTER_SOUND.get(w[-1], "이")
    # Endings an English word is heard with: -m/-n/-ng/-l/-r... give a final consonant.
    for ending, sound in (("ng", "앙"), ("ck", "익"), ("le", "을"), ("me", "임"), ("ne", "인"),
                          ("l", "을"), ("m", "엄"), ("n", "언"), ("k", "익"), ("p", "입"),
                          ("t", "트"), ("d", "드"), ("r", "어"), ("y", "이"), ("e", "이"),
                          ("s", "스"), ("x", "스"), ("a", "아"), ("o", "오"), ("i", "이"), ("u", "우")):
        if w.endswith(ending):
            return sound
    return "이"


def spoken_ending(word) -> str:
    """The last syllable of ``word`` as a Korean speaker says it (Hangul, digits, Latin, symbols)."""
    text = str(word).strip()
    # A gloss in parentheses is not what the particle agrees with: 문자열(str)이, 'cuda'(LLM_COURSE_DEVICE=cuda)를.
    gloss = re.match(r"^(.*\S)\s*\([^()]*\)$", text)
    if gloss:
        text = gloss.group(1)
    # Trailing punctuation and closing brackets/quotes are not read aloud.
    text = re.sub(r"[\s\"'`)\]}>.,!?:;…]+$", "", text)
    if not text:
        return "이"
    last = text[-1]
    if _final_of(last) is not None:
        return last
    if last in _SYMBOL_SOUND:
        return _SYMBOL_SOUND[last]
    m = re.search(r"(\d+)(?:\.(\d+))?\s*([A-Za-z]*)$", text)
    if m:
        if m.group(3):  # a unit after the number: "538 MB" ends in 바이트
            return _english_sound(m.group(3))
        if m.group(2):  # decimals are read digit by digit after 점: 0.35 -> 영점삼오
            return _DIGIT_SOUND[m.group(2)[-1]]
        return _number_sound(m.group(1))
    m = re.search(r"([A-Za-z]+)$", text)
    if m:
        return _english_sound(m.group(1))
    return "이"


def josa(word, pair: str) -> str:
    """``word`` followed by the right particle of ``pair`` (for example ``"은/는"``).

    >>> josa("17", "은/는"), josa("40", "은/는"), josa("457", "이/가"), josa("모델", "으로/로")
    ('17은', '40은', '457이', '모델로')
    """
    if pair not in _PAIRS:
        raise ValueError(f"unknown particle pair {pair!r}; known: {', '.join(_PAIRS)}")
    after_consonant, after_vowel = _PAIRS[pair]
    final = _final_of(spoken_ending(word)[-1])
    if pair == "으로/로":
        use_vowel_form = final in (0, _RIEUL, None)
    else:
        use_vowel_form = final in (0, None)
    return f"{word}{after_vowel if use_vowel_form else after_consonant}"


def bilingual(ko: str, en: str) -> str:
    """One message in both languages: Korean first, English on the next line."""
    return f"{ko}\n{en}"


LANG_ENV_VAR = "LLM_COURSE_LANG"
LANGUAGES = ("ko", "en")


def lesson_language() -> str | None:
    """``"ko"`` or ``"en"``: the language of the notebook that is running, or None if it cannot be known.

    ``LLM_COURSE_LANG=ko|en`` decides (``both`` for both). Otherwise the kernel's working
    folder does: JupyterLab, nbval and the course's authoring tool start a notebook's kernel
    in the notebook's own folder, ``notebooks/ko`` or ``notebooks/en``. Colab's kernel
    runs in ``/content`` whichever notebook it opened, so there it is None.
    """
    forced = os.environ.get(LANG_ENV_VAR, "").strip().lower()
    if forced in LANGUAGES:
        return forced
    if forced:
        return None
    folder = Path.cwd().name
    return folder if folder in LANGUAGES else None


def say(ko: str, en: str) -> str:
    """A message in the running notebook's language; both (Korean first) where it cannot be known."""
    lang = lesson_language()
    if lang == "ko":
        return ko
    if lang == "en":
        return en
    return bilingual(ko, en)


def ko_en(ko: str, en: str) -> str:
    """A short label (a table's header, the start of a printed line) in the notebook's language; English where unknown.

    A label sits inside a line or a table, where two languages would break the layout.
    """
    return ko if lesson_language() == "ko" else en


def display_width(text: str) -> int:
    """Columns ``text`` takes in a monospace font: a Hangul syllable takes two (aligning tables with Korean labels)."""
    return sum(2 if _HANGUL_FIRST <= ord(ch) <= _HANGUL_LAST else 1 for ch in text)
