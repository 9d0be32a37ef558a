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


# --------------------------------------------------------------------------
# The running notebook's language: what the course prints follows it
# --------------------------------------------------------------------------


def test_the_language_follows_the_notebook_folder_or_the_variable(tmp_path, monkeypatch):
    from llm_course.i18n import LANG_ENV_VAR, ko_en, lesson_language, say

    monkeypatch.delenv(LANG_ENV_VAR, raising=False)
    for folder, lang in (("ko", "ko"), ("en", "en"), ("content", None)):  # Colab's kernel runs in /content
        (tmp_path / folder).mkdir()
        monkeypatch.chdir(tmp_path / folder)
        assert lesson_language() == lang
    assert say("안녕", "hello") == "안녕\nhello" and ko_en("층 수", "layers") == "layers"  # unknown: both / English
    monkeypatch.chdir(tmp_path / "ko")
    assert say("안녕", "hello") == "안녕" and ko_en("층 수", "layers") == "층 수"
    monkeypatch.setenv(LANG_ENV_VAR, "en")
    assert say("안녕", "hello") == "hello" and ko_en("층 수", "layers") == "layers"
    monkeypatch.setenv(LANG_ENV_VAR, "both")
    assert lesson_language() is None


def test_verdicts_and_the_report_print_in_the_notebook_language(tmp_path, monkeypatch, capsys):
    from llm_course import env
    from llm_course.checks import core
    from llm_course.i18n import LANG_ENV_VAR

    monkeypatch.delenv(LANG_ENV_VAR, raising=False)
    (tmp_path / "ko").mkdir()
    monkeypatch.chdir(tmp_path / "ko")
    result = core.check(True, ("맞습니다.", "Correct."), ("틀렸습니다.", "Wrong."))
    assert result.message == "✅ 맞습니다." and "Correct" not in capsys.readouterr().out
    report = env.format_report({"device": "cpu", "model cache": "/tmp/x", "torch": "2.13.0"})
    assert report.splitlines() == ["장치       cpu", "모델 캐시  /tmp/x", "torch      2.13.0"]  # Hangul is two columns wide
    monkeypatch.chdir(tmp_path)
    assert core.check(False, ("맞습니다.", "Correct."), ("틀렸습니다.", "Wrong.")).message == "❌ 틀렸습니다.\n   Wrong."


def test_tables_align_korean_labels_by_display_width():
    from llm_course import tables
    from llm_course.i18n import display_width

    lines = tables.format_table(["실행", "ppl"], [["학습 전", "9.89"], ["after", "5.95"]]).splitlines()
    assert display_width("학습 전") == 7
    assert len({display_width(line) for line in lines}) == 1  # every line ends in the same column
    assert lines[2] == "학습 전  9.89"
