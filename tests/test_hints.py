"""Running a lesson cell before the cells above it ends in a hint, in Korean and English (llm_course.hints)."""

import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from llm_course import hints
from llm_course_dev import authoring

ROOT = Path(__file__).resolve().parent.parent


def run_cells(*sources) -> list:
    """Run code cells in a fresh kernel of this environment; return the error outputs of the last one."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    client = NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True)
    client.execute()
    return [o for o in nb.cells[-1].outputs if o.output_type == "error"]


def traceback_text(errors) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(line for e in errors for line in e["traceback"]))


def test_after_the_setup_cell_a_name_error_says_to_run_the_cells_above():
    errors = run_cells("from llm_course import env\nenv.prepare_notebook()", "model.generate")
    text = traceback_text(errors)
    assert errors and errors[0]["ename"] == "NameError"
    assert "위쪽 셀을 먼저, 맨 위부터" in text and "Run the cells above first, from the top" in text


def test_a_fresh_kernel_of_the_course_environment_hints_from_the_first_cell(monkeypatch):
    # ./course.sh's set-up (python -m llm_course prepare) writes the kernel config; nothing is imported here.
    config = Path(sys.prefix) / "etc" / "ipython" / hints.KERNEL_CONFIG
    assert config.exists(), "run ./course.sh (or python -m llm_course prepare) to write the kernel config"
    monkeypatch.setenv("JPY_SESSION_NAME", str(ROOT / "notebooks" / "ko" / "03_attention.ipynb"))
    errors = run_cells("attentions.shape")
    text = traceback_text(errors)
    cell, line = hints.lesson_names()["03_attention"]["attentions"]
    assert f"{cell}번째 코드 셀" in text and f"code cell {cell} of this notebook: {line}" in text
    assert "Run the cells above first" in text


def test_importing_the_package_changes_nothing_global_the_setup_cell_does():
    """Colab's kernels have no course kernel config: there the setup cell (env.print_report(), which
    calls env.prepare_notebook()) switches the hint and the figures' font on, and importing does not."""
    import subprocess

    code = """
from IPython.core.interactiveshell import InteractiveShell
import matplotlib
shell = InteractiveShell.instance()
before = list(matplotlib.rcParams["font.family"])
import llm_course, llm_course.env, llm_course.models, llm_course.viz, llm_course.checks
assert not shell.custom_exceptions, shell.custom_exceptions
assert list(matplotlib.rcParams["font.family"]) == before, matplotlib.rcParams["font.family"]
llm_course.env.prepare_notebook()
assert NameError in shell.custom_exceptions
assert list(matplotlib.rcParams["font.family"]) == ["NanumGothic"]
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.stdout.strip() == "ok", done.stderr[-2000:]


def test_other_errors_are_left_alone():
    errors = run_cells("import llm_course", "1 / 0")
    assert errors[0]["ename"] == "ZeroDivisionError"
    assert "Run the cells above" not in traceback_text(errors)


def test_the_index_says_which_cell_binds_a_name():
    index = authoring.names_index()
    assert index["00_setup"]["model"][1].startswith("model = models.load_model(")
    code = [c["source"] for c in authoring.parse_source(
        (ROOT / "notebooks" / "src" / "00_setup.nbsrc").read_text(encoding="utf-8")) if c["type"] == "code"]
    assert "model = models.load_model(" in code[index["00_setup"]["model"][0] - 1]
    assert hints.lesson_names() == index, "run `python -m llm_course_dev.authoring build`"


def test_names_defined_covers_the_ways_a_cell_binds_names():
    code = "import torch\nfrom a import b as c\nx, (y, z) = 1, (2, 3)\ndef f(): pass\nfor i in range(2):\n    w = i\n%pip"
    assert [n for n, _ in authoring.names_defined(code)] == []  # a magic makes it IPython, not Python
    code = code.replace("\n%pip", "\nwith open('f') as fh:\n    q = 1\nclass K: pass\nn += 1")
    assert [n for n, _ in authoring.names_defined(code)] == ["torch", "c", "x", "y", "z", "f", "i", "w", "fh", "q",
                                                              "K", "n"]


def test_the_kernel_config_is_written_only_into_a_virtual_environment(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "base_prefix", str(tmp_path / "system"))
    path = hints.write_kernel_config(str(tmp_path / "venv"))
    assert path is not None and "llm_course.hints" in path.read_text() and "quiet_hub_kernel_notice" in path.read_text()
    monkeypatch.setattr(sys, "base_prefix", str(tmp_path / "venv"))
    assert hints.write_kernel_config(str(tmp_path / "venv")) is None
    theirs = tmp_path / "other" / "etc" / "ipython" / hints.KERNEL_CONFIG
    theirs.parent.mkdir(parents=True)
    theirs.write_text("c.Something = 1\n")
    monkeypatch.setattr(sys, "base_prefix", str(tmp_path / "system"))
    assert hints.write_kernel_config(str(tmp_path / "other")) is None  # someone else's file is left alone
    assert theirs.read_text() == "c.Something = 1\n"
