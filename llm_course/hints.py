"""A hint when a lesson cell runs before the cells above it (every notebook).

A learner who opens a notebook and runs a cell in the middle, or comes back
after the kernel restarted, gets ``NameError: name 'model' is not defined``:
true, but it does not say what to do. With this IPython extension loaded the
same error ends with one line in Korean and English: run the cells above
first, from the top, and, when the notebook is known, which code cell makes
the missing name.

It is loaded two ways: ``import llm_course`` in a lesson's import cell loads it
(Colab, any Jupyter), and the course's virtual environment loads it in every
new kernel (``python -m llm_course prepare`` writes the IPython kernel config
into ``.venv/etc/ipython``), so even the very first cell a learner runs gets it.
Which cell makes which name comes from ``lesson_names.json``, written by
``python -m llm_course_dev.authoring build`` from the lessons' code.
"""

from __future__ import annotations

import json
import os
import re
import sys
from functools import lru_cache
from pathlib import Path

from .i18n import josa

INDEX_FILE = Path(__file__).with_name("lesson_names.json")
KERNEL_CONFIG = "ipython_kernel_config.py"
_MARK = "# written by llm_course: NameError hints in the course's notebooks"


@lru_cache(maxsize=1)
def lesson_names() -> dict:
    """``{notebook stem: {name: [code cell number, first line of that cell]}}`` for every lesson."""
    try:
        return json.loads(INDEX_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _current_notebook(shell) -> str | None:
    """The stem of the notebook this kernel runs, where the front end tells (JupyterLab, VS Code)."""
    candidates = [os.environ.get("JPY_SESSION_NAME"), shell.user_ns.get("__session__"),
                  shell.user_ns.get("__vsc_ipynb_file__")]
    for path in candidates:
        if isinstance(path, str) and path.endswith(".ipynb"):
            return Path(path).stem
    return None


def hint_for(name: str, notebook: str | None) -> str:
    """The bilingual lines added under a NameError for ``name``."""
    where = lesson_names().get(notebook or "", {}).get(name)
    lines = []
    if where:
        cell, first_line = where
        lines.append(f"💡 {josa(f'`{name}`', '은/는')} 이 노트북의 {cell}번째 코드 셀에서 만들어집니다: {first_line}")
        lines.append(f"   `{name}` is made in code cell {cell} of this notebook: {first_line}")
    lines.append("💡 위쪽 셀을 먼저, 맨 위부터 차례로 실행하세요 (Jupyter: Run ▸ Run All Above, Colab: 런타임 ▸ 이전 셀 실행).")
    lines.append("   Run the cells above first, from the top (Jupyter: Run ▸ Run All Above; Colab: Runtime ▸ Run before).")
    return "\n".join(lines)


def _missing_name(value) -> str | None:
    name = getattr(value, "name", None)
    if name:
        return name
    found = re.search(r"name '([^']+)' is not defined", str(value))
    return found.group(1) if found else None


def _handler(shell, etype, value, tb, tb_offset=None):
    """Show the usual traceback, then the hint (IPython ignores what a custom handler returns)."""
    name = _missing_name(value)
    had_own = "_showtraceback" in vars(shell)
    show = shell._showtraceback

    def with_hint(etype_, value_, structured):
        if name is not None:
            structured = [*structured, "", hint_for(name, _current_notebook(shell))]
        return show(etype_, value_, structured)

    shell._showtraceback = with_hint
    try:
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset, running_compiled_code=True)
    finally:
        if had_own:
            shell._showtraceback = show
        else:
            del shell._showtraceback
    return None


def load_ipython_extension(shell) -> None:
    """Add the hint to NameErrors in this IPython shell (``%load_ext llm_course.hints``)."""
    shell.set_custom_exc((NameError,), _handler)


def install() -> bool:
    """Load the extension into the running IPython kernel, if there is one; True if it did."""
    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None or not hasattr(shell, "set_custom_exc"):
        return False
    load_ipython_extension(shell)
    return True


def write_kernel_config(prefix: str | None = None) -> Path | None:
    """Make every kernel of this virtual environment load the extension at start (and quiet one known notice).

    Writes ``<prefix>/etc/ipython/ipython_kernel_config.py`` (IPython reads that
    folder for every kernel started from this environment). Only inside a virtual
    environment, never into a system Python; an existing file of someone else's is
    left alone. Returns the path written, or None.
    """
    prefix = prefix or sys.prefix
    if prefix == getattr(sys, "base_prefix", prefix):
        return None
    path = Path(prefix) / "etc" / "ipython" / KERNEL_CONFIG
    text = (f"{_MARK}\nc.InteractiveShellApp.extensions = ['llm_course.hints']\n"
            # and, before a lesson's first import of transformers (which imports bitsandbytes), keep
            # bitsandbytes' harmless notice about the optional `kernels` package out (notebook 08 explains it)
            "c.InteractiveShellApp.exec_lines = ['from llm_course.memory import quiet_hub_kernel_notice as _q; _q(); del _q']\n")
    if path.exists() and not path.read_text(encoding="utf-8").startswith(_MARK):
        return None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    except OSError:
        return None
    return path
