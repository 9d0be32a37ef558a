"""Shared fixtures: the packaged chat model, loaded once per test session.

The model comes from the real course cache (``$LLM_COURSE_CACHE`` or the
user's cache folder), converted on first use exactly as a learner's would be.
Tests that need a cache of their own set ``LLM_COURSE_CACHE`` to a temporary
folder with ``monkeypatch``.
"""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The device audit (unit tests and notebook kernels) and the authoring tool live in llm_course_dev,
# outside the learner's package (pyproject: pythonpath = ["."]).
pytest_plugins = ["llm_course_dev.pytest_plugin"]


def pytest_configure(config):
    config.addinivalue_line("markers", "network: needs the machine's real network; never runs in CI "
                                       "(run it with LLM_COURSE_NETWORK_TESTS=1)")


def pytest_collection_modifyitems(config, items):
    import os

    if os.environ.get("LLM_COURSE_NETWORK_TESTS") == "1" and not os.environ.get("CI"):
        return
    skip = pytest.mark.skip(reason="needs the real network: set LLM_COURSE_NETWORK_TESTS=1 (never in CI)")
    for item in items:
        if "network" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def chat_tokenizer():
    from llm_course import models

    return models.load_tokenizer("smollm2-135m-instruct")


@pytest.fixture(scope="session")
def chat_model():
    from llm_course import models

    return models.load_model("smollm2-135m-instruct")  # LLM_COURSE_DEVICE=cpu in ./course.sh test; audited


@pytest.fixture(scope="session")
def load_solutions():
    """Import ``solutions/<stem>.py`` (the worked solutions are files, not a package)."""

    def load(stem: str):
        spec = importlib.util.spec_from_file_location(f"solutions_{stem}", ROOT / "solutions" / f"{stem}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
