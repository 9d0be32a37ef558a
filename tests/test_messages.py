"""Errors a learner can meet speak Korean and English (the course's own messages, not the libraries')."""

import re

import pytest
import torch

from llm_course import attention, chat, embeddings, generation, models, prompting, tokens, viz, widgets

HANGUL = re.compile(r"[가-힣]")


def _message(call):
    with pytest.raises((ValueError, TypeError, KeyError, models.ModelError)) as err:
        call()
    return str(err.value)


@pytest.mark.parametrize("what, call", [
    ("unknown model", lambda: models.resolve("gpt-17")),
    ("offline hub", lambda: (_ for _ in ()).throw(models.hub._hub_error("someone/model"))),
    ("max_new_tokens", lambda: generation.check_max_new_tokens(0)),
    ("temperature", lambda: generation.check_temperature(0, do_sample=True)),
    ("top_k", lambda: generation.check_top_k(-3)),
    ("top_p", lambda: generation.check_top_p(1.5)),
    ("empty prompt", lambda: generation.generate_text(None, None, "  ")),
    ("chat: not a list", lambda: chat.validate_messages("hello")),
    ("chat: unknown role", lambda: chat.validate_messages([{"role": "bot", "content": "hi"}])),
    ("chat: no content", lambda: chat.validate_messages([{"role": "user"}])),
    ("chat: empty", lambda: chat.validate_messages([])),
    ("layer out of range", lambda: attention.check_layer_head(torch.zeros(30, 9, 4, 4), 30, 0)),
    ("head out of range", lambda: attention.check_layer_head(torch.zeros(30, 9, 4, 4), 0, 9)),
    ("empty text", lambda: tokens.check_text("")),
    ("not a text", lambda: tokens.check_text(3)),
    ("empty token", lambda: embeddings.token_id(None, "")),
    ("no sentences", lambda: embeddings._check_sentences([])),
    ("prompts as a string", lambda: prompting.label_logprobs(None, None, "one prompt", (" a", " b"))),
    ("widget mode", lambda: widgets.generation_view(None, None, "Hi", mode="beam")),
    ("empty plot", lambda: viz.token_probability_bars([])),
])
def test_learner_facing_errors_are_bilingual(what, call):
    message = _message(call)
    assert HANGUL.search(message), f"{what}: no Korean in {message!r}"
    assert re.search(r"[A-Za-z]{4,} [a-z]{2,}", message), f"{what}: no English in {message!r}"
    first, _, second = message.partition("\n")
    assert HANGUL.search(first) and second, f"{what}: Korean first, then English on the next line"


def test_cache_problems_are_bilingual(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv(models.CACHE_ENV_VAR, str(blocker))
    message = _message(lambda: models.ensure_cached(verbose=False))
    assert HANGUL.search(message) and "Set LLM_COURSE_CACHE" in message
