"""Checks of the notebooks as files: built from their sources, ko/en parity,
outputs from one clean run, no widget state, and no dead relative links.

nbval (configured in pyproject.toml) executes the notebooks themselves.
"""

import json
import re
from pathlib import Path

import pytest

from llm_course_dev import authoring

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "notebooks" / "src").glob("*.nbsrc"))
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*/*.ipynb"))
MAX_NOTEBOOK_BYTES = 1_500_000


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def code_cells(nb):
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def headings(nb):
    """Heading levels in order, e.g. ['#', '##', '##']: the two languages must share a structure."""
    levels = []
    for c in nb["cells"]:
        if c["cell_type"] == "markdown":
            for line in "".join(c["source"]).splitlines():
                m = re.match(r"^(#{1,6}) ", line)
                if m:
                    levels.append(m.group(1))
    return levels


def test_there_are_notebooks_in_both_languages():
    assert SOURCES, "no notebook sources found"
    for src in SOURCES:
        for lang in authoring.LANGS:
            assert authoring.notebook_path(src, lang).exists(), f"{src.stem} missing in {lang}"
    stems = {p.stem for p in NOTEBOOKS}
    assert stems == {s.stem for s in SOURCES}, "every notebook must have a source in notebooks/src"


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_notebooks_match_their_source(src):
    assert authoring.differs(src) == []


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_korean_and_english_share_code_and_structure(src):
    ko = load(authoring.notebook_path(src, "ko"))
    en = load(authoring.notebook_path(src, "en"))
    assert code_cells(ko) == code_cells(en)
    assert headings(ko) == headings(en)
    assert [c["cell_type"] for c in ko["cells"]] == [c["cell_type"] for c in en["cells"]]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_outputs_come_from_one_clean_run(path):
    nb = load(path)
    assert path.stat().st_size <= MAX_NOTEBOOK_BYTES, "trim outputs or figure resolution"
    assert "widgets" not in nb["metadata"], "widget state saved: run `python -m llm_course_dev.authoring run`"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    counts = [c["execution_count"] for c in code]
    assert counts == list(range(1, len(code) + 1)), "outputs must come from one top-to-bottom run"
    for c in code:
        for out in c["outputs"]:
            assert authoring.WIDGET_VIEW not in out.get("data", {}), "a saved widget view shows only an error"
            assert out["output_type"] != "error", f"committed error output: {out.get('ename')}"
            text = "".join(out.get("text", ""))
            assert "Glyph" not in text or "missing" not in text, "a figure is missing Korean glyphs"
            assert "Traceback" not in text


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_first_cell_installs_this_release_of_the_course_on_colab(path):
    src = ROOT / "notebooks" / "src" / f"{path.stem}.nbsrc"
    cells = authoring.parse_source(src.read_text(encoding="utf-8"), src.name)
    placeholder = next(c for c in cells if c["type"] == "code")["source"]
    assert authoring.INSTALL_PLACEHOLDER.fullmatch(placeholder), "the first code block is {{COLAB_INSTALL ...}}"
    first = code_cells(load(path))[0]
    assert first == authoring.expand_install(placeholder)
    release = authoring.default_release()
    assert f"git+{release.url}@{release.ref}\"" in first, "the install cell pins the course to its release tag"
    # The only cell that installs anything: a later %pip is not seen by transformers until a restart.
    assert not [c for c in code_cells(load(path))[1:] if "%pip" in c or "!pip" in c]


def markdown_links(text):
    for target in re.findall(r"\[[^\]]*\]\(([^)\s]+)\)", text):
        if not re.match(r"^[a-z]+://|^#|^mailto:", target):
            yield target.split("#")[0]


def documents():
    yield ROOT / "README.md", (ROOT / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        nb = load(path)
        yield path, "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def test_relative_links_point_to_existing_files():
    dead = [f"{path.relative_to(ROOT)} -> {target}"
            for path, text in documents() for target in markdown_links(text)
            if target and not (path.parent / target).exists()]
    assert dead == []


def test_readme_lists_every_notebook_with_a_colab_badge():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        rel = path.relative_to(ROOT).as_posix()
        assert f"({rel})" in readme, f"README does not link {rel}"
        assert f"({authoring.colab_url(path)})" in readme, f"README has no Colab badge for {rel} at this release"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_nbval_markers_are_tags_not_comments(path):
    """The learner reads only the lesson's code: nbval's markers live in cell metadata."""
    nb = load(path)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert not [c["id"] for c in code if "NBVAL_" in "".join(c["source"])]
    tags = {t for c in code for t in c.get("metadata", {}).get("tags", [])}
    assert tags <= set(authoring.CODE_TAGS.values()), tags
    assert "nbval-check-output" in tags, "a lesson compares at least one output"


# Sentences written for developers, and times a learner's run cannot check ("a few seconds").
NOT_FOR_LEARNERS = ["tests call", "the tests", "unit test", "course's tests", "단위 테스트", "테스트가", "테스트는",
                    "a few seconds", "몇 초", "much faster", "훨씬 빠릅니다"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_prose_speaks_to_the_learner(path):
    nb = load(path)
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    found = [phrase for phrase in NOT_FOR_LEARNERS if phrase in text]
    assert found == [], f"{path.name}: {found}"


def test_solutions_are_linked_in_the_clone_and_on_github():
    release = authoring.default_release()
    for src in SOURCES:
        for lang in authoring.LANGS:
            text = "\n".join("".join(c["source"]) for c in load(authoring.notebook_path(src, lang))["cells"]
                             if c["cell_type"] == "markdown")
            assert f"(../../solutions/{src.stem}.py)" in text, (src.stem, lang)
            assert f"({release.url}/blob/{release.ref}/solutions/{src.stem}.py)" in text, (src.stem, lang)


def test_source_parser_reports_mistakes():
    with pytest.raises(authoring.SourceError, match="en block"):
        authoring.parse_source("=== ko\n# 제목\n=== code\nx = 1\n")
    with pytest.raises(authoring.SourceError, match="unknown block"):
        authoring.parse_source("=== fr\nbonjour\n")
    with pytest.raises(authoring.SourceError, match="cell tags"):
        authoring.parse_source("=== code\n# NBVAL_CHECK_OUTPUT\nx = 1\n")
    with pytest.raises(authoring.SourceError, match="unknown word"):
        authoring.parse_source("=== code chek\nx = 1\n")
    cells = authoring.parse_source("=== ko\n가\n=== en\nA\n=== code check\nx = 1\n")
    assert cells == [{"type": "markdown", "ko": "가", "en": "A"},
                     {"type": "code", "source": "x = 1", "tags": ["nbval-check-output"]}]
    nb = authoring.render(cells, "ko")
    assert nb.cells[1].metadata["tags"] == ["nbval-check-output"]
