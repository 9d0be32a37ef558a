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


@pytest.fixture(scope="session")
def chat_tokenizer():
    from llm_course import models

    return models.load_tokenizer("smollm2-135m-instruct")


@pytest.fixture(scope="session")
def chat_model():
    from llm_course import models

    return models.load_model("smollm2-135m-instruct", device="cpu")


@pytest.fixture(scope="session")
def load_solutions():
    """Import ``solutions/<stem>.py`` (the worked solutions are files, not a package)."""

    def load(stem: str):
        spec = importlib.util.spec_from_file_location(f"solutions_{stem}", ROOT / "solutions" / f"{stem}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
