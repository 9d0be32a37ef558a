"""Korean particles follow how the word before them is read (llm_course.i18n)."""

import pytest

from llm_course.i18n import bilingual, josa, spoken_ending


@pytest.mark.parametrize("word, pair, expected", [
    ("17", "은/는", "17은"),        # 십칠
    ("40", "은/는", "40은"),        # 사십
    ("457", "이/가", "457이"),      # 사백오십칠
    ("2", "은/는", "2는"),          # 이
    ("100", "을/를", "100을"),      # 백
    ("1000", "이/가", "1000이"),    # 천
    ("10000", "은/는", "10000은"),  # 만
    ("0.35", "은/는", "0.35는"),    # 영점삼오
    ("35%", "은/는", "35%는"),      # 퍼센트
    ("538 MB", "이/가", "538 MB가"),  # 메가바이트
    ("모델", "으로/로", "모델로"),   # ㄹ takes 로
    ("손", "으로/로", "손으로"),
    ("바다", "으로/로", "바다로"),
    ("7", "으로/로", "7로"),        # 칠: ㄹ
    ("3", "으로/로", "3으로"),      # 삼
    ("토큰", "을/를", "토큰을"),
    ("헤드", "을/를", "헤드를"),
    ("'cuda'", "을/를", "'cuda'를"),
    ("(3, 4)", "은/는", "(3, 4)는"),  # 사
    ("GPU", "이/가", "GPU가"),      # 유
    ("list", "이/가", "list가"),    # 트
    ("BatchEncoding", "이/가", "BatchEncoding이"),  # 잉
    ("tensor", "이/가", "tensor가"),  # 서
    ("문자열(str)", "이/가", "문자열(str)이"),  # the particle agrees with the word, not the gloss
    ("정수(int)", "이/가", "정수(int)가"),
])
def test_particles_follow_pronunciation(word, pair, expected):
    assert josa(word, pair) == expected


def test_numbers_are_accepted_as_numbers():
    assert josa(17, "은/는") == "17은"
    assert spoken_ending(1_000_000) == "만"


def test_unknown_pair_is_refused():
    with pytest.raises(ValueError, match="known"):
        josa("모델", "에/에게")


def test_bilingual_puts_korean_first():
    assert bilingual("안녕", "hello") == "안녕\nhello"
