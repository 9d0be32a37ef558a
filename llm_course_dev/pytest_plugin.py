"""The device audit in the test suite: every unit test, and every notebook kernel nbval starts.

Loaded by ``tests/conftest.py`` (``pytest_plugins``). Unit tests run inside
:func:`llm_course_dev.device_audit.device_audit` for the whole session. A notebook runs in
a kernel of its own, another process: for those, the plugin writes an IPython start-up
file into a temporary ``IPYTHONDIR`` that kernels started by this pytest process inherit,
and the file switches the audit on before the notebook's first cell.
``LLM_COURSE_DEVICE_AUDIT=0`` leaves the kernels alone (to time a notebook without it).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

AUDIT_ENV_VAR = "LLM_COURSE_DEVICE_AUDIT"
ROOT = Path(__file__).resolve().parent.parent

_STARTUP = """\
# Written by llm_course_dev.pytest_plugin for a test run: audit that inputs follow the model's device.
import sys as _sys

_sys.path.append({root!r})
from llm_course_dev import device_audit as _device_audit

_device_audit.start_audit()
del _sys, _device_audit
"""


def kernel_startup_dir() -> Path:
    """A fresh IPYTHONDIR whose default profile switches the audit on at kernel start."""
    folder = Path(tempfile.mkdtemp(prefix="llm-course-ipython-"))
    startup = folder / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-llm-course-device-audit.py").write_text(_STARTUP.format(root=str(ROOT)), encoding="utf-8")
    return folder


def pytest_configure(config):
    if os.environ.get(AUDIT_ENV_VAR, "").strip() == "0":
        return
    folder = kernel_startup_dir()
    config._llm_course_ipythondir = (folder, os.environ.get("IPYTHONDIR"))
    os.environ["IPYTHONDIR"] = str(folder)


def pytest_unconfigure(config):
    saved = getattr(config, "_llm_course_ipythondir", None)
    if saved is None:
        return
    folder, before = saved
    if before is None:
        os.environ.pop("IPYTHONDIR", None)
    else:
        os.environ["IPYTHONDIR"] = before
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def _inputs_follow_the_model_device():
    """Every unit test runs under the device audit: a helper of the course that calls a model
    with a tensor it never moved to ``model.device`` fails here on the CPU exactly where it
    would fail on a GPU."""
    from llm_course_dev import device_audit

    with device_audit.device_audit():
        yield
