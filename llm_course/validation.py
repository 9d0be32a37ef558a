"""Checks of the arguments a lesson passes to the course's functions, with one message for each kind.

A wrong argument raises ``ValueError`` in Korean and English that names the
argument (its Korean name first, the particle following the Korean word) and
the value it got, so the learner sees what to change.
"""

from __future__ import annotations

from .i18n import bilingual, josa


def named(name_ko: str, name: str, pair: str) -> str:
    """``"대역폭(bandwidth)은"``: the particle follows the Korean word, not the English one in brackets."""
    return f"{name_ko}({name}){josa(name_ko, pair)[len(name_ko):]}"


def positive_int(value, name: str, name_ko: str) -> int:
    """``value`` if it is a whole number >= 1 (not a bool, not a float), else a clear ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(bilingual(f"{named(name_ko, name, '은/는')} 1 이상의 정수여야 합니다 (받은 값: {value!r}).",
                                   f"{name} must be a whole number >= 1 (got {value!r})."))
    return value
