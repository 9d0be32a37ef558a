"""The lesson index notebooks/lessons.toml (llm_course_dev.lessons): notebook 00's table of lessons and
the README's course map are made from it, and the lessons' cross-references are checked against it.

The cross-reference check of the real lessons is one test per lesson
(test_a_lessons_pointers_name_the_lesson_that_defines_the_term), so a finding in one lesson shows
as that lesson's failure, with the file, line and fix.
"""

import re
from pathlib import Path

import nbformat
import pytest

from llm_course_dev import authoring, lessons

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "notebooks" / "src").glob("*.nbsrc"))
INDEX = lessons.load_index()


def text(src: Path) -> str:
    return src.read_text(encoding="utf-8")


# --------------------------------------------------------------------------
# The index and the sources agree
# --------------------------------------------------------------------------

def test_the_index_lists_every_lesson_with_its_title():
    assert lessons.index_problems({src.stem: text(src) for src in SOURCES}) == []
    assert [lesson.number for lesson in INDEX] == [f"{i:02d}" for i in range(len(INDEX))]
    written = [lesson.stem for lesson in INDEX if not lesson.planned]
    assert written == [src.stem for src in SOURCES]


@pytest.mark.parametrize("lesson", [x for x in INDEX if not x.planned], ids=lambda x: x.stem)
def test_each_term_is_used_by_the_lesson_that_defines_it_in_both_languages(lesson):
    """The index does not invent definitions: every term it gives a lesson is in that lesson's prose."""
    prose = list(lessons.prose_lines(text(ROOT / "notebooks" / "src" / f"{lesson.stem}.nbsrc")))
    for lang in lessons.LANGS:
        lines = [line for _, lg, line in prose if lg == lang]
        missing = [term.name for term in lesson.terms
                   if not any(term in [t for t, _, _ in lessons.mentions(line, [term])] for line in lines)]
        assert missing == [], f"{lesson.stem} ({lang}) never uses {missing}"


def test_a_source_without_an_entry_or_with_another_title_is_reported():
    sources = {src.stem: text(src) for src in SOURCES}
    renamed = dict(sources)
    renamed["04_transformer_block"] = sources["04_transformer_block"].replace("# 04. ", "# 04. New: ", 1)
    problems = lessons.index_problems(renamed)
    assert len(problems) == 1 and "04_transformer_block.nbsrc: the ko title" in problems[0]
    extra = dict(sources, **{"10_capstone": "=== ko\n# 10. 프로젝트\n=== en\n# 10. Capstone\n"})
    problems = lessons.index_problems(extra)
    assert any("10_capstone.nbsrc has no entry" in p and "planned" in p for p in problems)
    assert any("lesson 10 is marked planned = true but its source exists" in p for p in problems)
    del sources["09_finetuning"]
    assert lessons.index_problems(sources) == [
        f"{lessons.INDEX_NAME} lists lesson 09 (09_finetuning) but notebooks/src/09_finetuning.nbsrc does not exist"]
    assert lessons.index_problems(sources, complete=False) == []  # check NAMES looks only at those lessons


GOOD = """
[[lesson]]
number = "00"
stem = "00_a"
title = { ko = "가", en = "A" }
see = { ko = "가", en = "a" }
terms = [{ ko = "로짓", en = "logit", more = ["01"] }]

[[lesson]]
number = "01"
stem = "01_b"
title = { ko = "나", en = "B" }
see = { ko = "나", en = "b" }
"""


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.replace('number = "01"', 'number = "02"'), "found 02 where 01 belongs"),
    (lambda s: s.replace('number = "01"', 'number = 1'), "two digits in quotes"),
    (lambda s: s.replace('stem = "01_b"', 'stem = "02_b"'), "needs stem"),
    (lambda s: s.replace('see = { ko = "나", en = "b" }', 'see = { ko = "나" }'), "needs see"),
    (lambda s: s.replace('more = ["01"]', 'more = ["00"]'), "must name a later lesson"),
    (lambda s: s + 'terms = [{ ko = "로짓", en = "logits" }]\n', "listed by lessons 00 and 01"),
    (lambda s: s + "planned = true\n", "is planned: it has no stem"),
    (lambda s: s.replace("[[lesson]]", "[[lessons]]"), "no [[lesson]] entries"),
    (lambda s: s + "colour = 1\n", "unknown field"),
])
def test_a_malformed_index_gets_a_clear_error(edit, message):
    assert lessons.parse_index(GOOD)[1].stem == "01_b"
    with pytest.raises(lessons.LessonIndexError, match=re.escape(message)):
        lessons.parse_index(edit(GOOD))


# --------------------------------------------------------------------------
# Generated, not copied: notebook 00's table and the README's course map
# --------------------------------------------------------------------------

def test_notebook_00_lists_the_lessons_of_the_index_in_each_language():
    src = ROOT / "notebooks" / "src" / "00_setup.nbsrc"
    cells = authoring.parse_source(text(src), src.name)
    section = [c for c in cells if c["type"] == "markdown" and c["ko"].startswith("## 6.")]
    assert len(section) == 1 and all(section[0][lang].count(lessons.PLACEHOLDER) == 1 for lang in lessons.LANGS)
    for lang in lessons.LANGS:
        table = lessons.lesson_table(lang, after="00")
        built = nbformat.read(authoring.notebook_path(src, lang), as_version=4)
        markdown = "\n".join(c.source for c in built.cells if c.cell_type == "markdown")
        assert table in markdown and lessons.PLACEHOLDER not in markdown
        rows = table.splitlines()[2:]
        assert len(rows) == len(INDEX) - 1  # every lesson after 00, the planned ones too
        for lesson, row in zip(INDEX[1:], rows):
            assert f"{lesson.number}. {lesson.title[lang]}" in row
            if lesson.planned:
                assert f"({lessons.NOT_WRITTEN[lang]})" in row and "](" not in row
            else:
                assert f"]({lesson.stem}.ipynb)" in row and lesson.see[lang] in row
    ko, en = (authoring.render(cells, lang, src.stem) for lang in lessons.LANGS)
    assert "토큰화" in "\n".join(c.source for c in ko.cells) and "Tokenization: how" not in "\n".join(
        c.source for c in ko.cells)
    assert "Tokenization: how text becomes numbers" in "\n".join(c.source for c in en.cells)


def test_readme_course_map_is_what_the_index_renders():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    have = readme.split(authoring.MAP_START, 1)[1].split(authoring.MAP_END, 1)[0].strip("\n")
    assert have == authoring.course_map(), "run `python -m llm_course_dev.authoring readme`"
    for lesson in INDEX:
        row = next(line for line in have.splitlines() if line.startswith(f"| {lesson.number} |"))
        for lang in lessons.LANGS:
            assert f"{lesson.number}. {lesson.title[lang]}" in row
        if lesson.planned:
            assert "colab" not in row and lessons.NOT_WRITTEN["ko"] in row and lessons.NOT_WRITTEN["en"] in row
        else:
            assert f"(notebooks/ko/{lesson.stem}.ipynb)" in row and f"(notebooks/en/{lesson.stem}.ipynb)" in row


def test_the_readme_command_rewrites_only_the_course_map(tmp_path, monkeypatch, capsys):
    readme = tmp_path / "README.md"
    original = (ROOT / "README.md").read_text(encoding="utf-8")
    head, rest = original.split(authoring.MAP_START, 1)
    tail = rest.split(authoring.MAP_END, 1)[1]
    readme.write_text(f"{head}{authoring.MAP_START}\n| stale |\n{authoring.MAP_END}{tail}", encoding="utf-8")
    monkeypatch.setattr(authoring, "README", readme)
    assert authoring.main(["readme"]) == 0
    assert "updated the course map" in capsys.readouterr().out
    assert readme.read_text(encoding="utf-8") == original
    assert authoring.main(["readme"]) == 0
    assert "up to date" in capsys.readouterr().out


# --------------------------------------------------------------------------
# The rule of the cross-reference check, on small examples
# --------------------------------------------------------------------------

RULES = lessons.parse_index("""
[[lesson]]
number = "00"
stem = "00_a"
title = { ko = "가", en = "A" }
see = { ko = "가", en = "a" }
terms = [{ ko = "임베딩", en = "embedding" }]

[[lesson]]
number = "01"
stem = "01_b"
title = { ko = "나", en = "B" }
see = { ko = "나", en = "b" }
terms = [{ ko = "로짓 렌즈", en = "logit lens" }, { ko = "로짓", en = "logit", more = ["02"] },
         { ko = "RMSNorm", en = "RMSNorm" }]

[[lesson]]
number = "02"
stem = "02_c"
title = { ko = "다", en = "C" }
see = { ko = "다", en = "c" }
terms = [{ ko = "KV 캐시", en = ["KV cache", "past_key_values"], more = ["03"] }]

[[lesson]]
number = "03"
stem = "03_d"
title = { ko = "라", en = "D" }
see = { ko = "라", en = "d" }
""")


def problems_in(stem: str, ko: str, en: str = "English.") -> list[str]:
    return lessons.cross_reference_problems({stem: f"=== ko\n{ko}\n=== en\n{en}\n"}, RULES)


@pytest.mark.parametrize("line", [
    "앞의 계산을 재사용(KV 캐시, 01)할 수 있습니다.",
    "재사용할 수 있습니다(KV 캐시: 01에서 씁니다).",
    "KV 캐시(01)를 씁니다.",
    "01의 KV 캐시를 씁니다.",
    "01 노트북의 `past_key_values`를 씁니다.",
    "01에서 본 KV 캐시를 씁니다.",
    "It reuses it (the KV cache, notebook 01).",
    "It reuses notebook 01's KV cache.",
    "It reuses the KV cache of notebook 01.",
])
def test_a_pointer_to_the_wrong_lesson_for_a_term_is_found(line):
    found = problems_in("03_d", line)
    assert len(found) == 1 and "points to 01 for KV 캐시 (KV cache)" in found[0] and "write 02" in found[0]
    assert found[0].startswith("notebooks/src/03_d.nbsrc:2 (ko)")
    right = line.replace("01", "02")
    assert problems_in("03_d", right) == [], right
    assert problems_in("03_d", line.replace("01", "03")) == []  # 03 treats it in depth (more), and it is "here"


@pytest.mark.parametrize("line", [
    "01에서 쓸 다음 토큰 분포와 KV 캐시를 봅니다.",  # 01 points to the distribution
    "`attention`(01), KV 캐시를 씁니다.",  # 01 annotates another word
    "(01 노트북). KV 캐시는 다음 문장입니다.",
    "As notebook 01 showed, the KV cache grows.",
])
def test_a_lesson_number_near_a_term_but_not_for_it_is_not_a_pointer(line):
    assert problems_in("03_d", line) == []


def test_a_term_used_before_its_lesson_must_say_where_it_is_defined():
    found = problems_in("00_a", "# 00. 가\n\n- 두 구현은 출력(로짓)이 같습니다.", "Both give the same logits (notebook 01).")
    assert len(found) == 1 and found[0].startswith("notebooks/src/00_a.nbsrc:4 (ko): uses 로짓 (logit) before lesson 01")
    assert "'(01)'" in found[0]
    # said on the line, or on any other line of the lesson that uses it, in that language
    assert problems_in("00_a", "출력(로짓, 01)이 같습니다.", "the same logits (notebook 01)") == []
    assert problems_in("00_a", "로짓이 같습니다.\n\n로짓은 01 노트북에서 정의합니다.", "Logits (notebook 02).") == []
    # a later lesson that treats it in depth also tells where it is
    assert problems_in("00_a", "로짓(02)이 같습니다.", "logits (notebook 02)") == []
    # the lesson that defines it, and every lesson after it, need not say so
    assert problems_in("01_b", "로짓이 같습니다.", "the same logits") == []
    assert problems_in("02_c", "로짓이 같습니다.", "the same logits") == []


def test_terms_are_matched_as_the_prose_writes_them():
    def used(line):
        return [t.en[0] for t, _, _ in lessons.mentions(line, lessons.all_terms(RULES))]

    assert used("로짓 렌즈로 읽은 로짓") == ["logit lens", "logit"]  # the longer term first, no overlap
    assert used("the logits of the logit lens") == ["logit", "logit lens"]
    assert used("RMSNorm까지, RMSNorms") == ["RMSNorm", "RMSNorm"]  # a Korean particle or a plural may follow
    assert used("`attention.logit_lens` and logistic and relogit") == []  # whole words; code only as a whole span
    assert used("the cache `past_key_values` holds") == ["KV cache"]
    assert used("임베딩은 Embeddings") == ["embedding", "embedding"]


@pytest.mark.parametrize("line, expected", [
    ("05 노트북에서, 노트북 06, notebook 07, notebooks 08, lesson 09", ["05", "06", "07", "08", "09"]),
    ("[04](04_transformer_block.ipynb)에서는", ["04", "04"]),
    ("(02), 03에서, 01~07, 08의", ["02", "03", "01", "07", "08"]),
    ("$10^{-5}$, 0.05, 2024-05-01, 1,024, 12:05, float16, x86, 10 steps, `05_x`, v0.1.0", []),
    ("10 노트북과 notebook 10", ["10", "10"]),
])
def test_what_counts_as_naming_a_lesson(line, expected):
    assert [n for n, _, _ in lessons.references(line)] == expected


def test_only_prose_is_read():
    source = "=== ko\n# 가\n```python\nx = 1  # 로짓\n```\n본문\n=== en\n# A\n=== code\nlogits = 1\n"
    assert list(lessons.prose_lines(source)) == [(2, "ko", "# 가"), (6, "ko", "본문"), (8, "en", "# A")]


# --------------------------------------------------------------------------
# The real lessons, one by one
# --------------------------------------------------------------------------

@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_a_lessons_pointers_name_the_lesson_that_defines_the_term(src):
    problems = lessons.cross_reference_problems({src.stem: text(src)})
    assert problems == [], "\n".join(problems)


def test_check_runs_the_lesson_checks():
    problems = authoring.lesson_problems(["00", "04"])
    assert problems == [], "\n".join(problems)
