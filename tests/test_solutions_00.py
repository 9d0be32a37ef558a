"""The worked solutions of notebook 00 pass its self-checks, and wrong answers fail them."""

import pytest
from transformers import pipeline

from llm_course import checks


@pytest.fixture(scope="module")
def solutions(load_solutions):
    return load_solutions("00_setup")


def test_parameter_count(solutions, chat_model):
    assert checks.setup_parameter_count(solutions.exercise_1_parameter_count(chat_model), chat_model)
    assert not checks.setup_parameter_count(135_000_000, chat_model)
    assert not checks.setup_parameter_count(None, chat_model)


def test_new_tokens(solutions, chat_model, chat_tokenizer):
    generator = pipeline("text-generation", model=chat_model, tokenizer=chat_tokenizer)
    prompt = "Once upon a time"
    text = solutions.exercise_2_new_tokens(generator, prompt)
    assert checks.setup_new_tokens(text, prompt, chat_model, chat_tokenizer, limit=8)
    shorter = generator(prompt, max_new_tokens=3, do_sample=False)[0]["generated_text"]
    assert checks.setup_new_tokens(shorter, prompt, chat_model, chat_tokenizer, limit=8)  # "at most 8"
    too_long = generator(prompt, max_new_tokens=20, do_sample=False)[0]["generated_text"]
    result = checks.setup_new_tokens(too_long, prompt, chat_model, chat_tokenizer, limit=8)
    assert not result and "새 토큰이 20개입니다" in result.message  # counted in the model's own tokens
    typed = prompt + ", there was a cat."  # a few tokens typed by hand, not generated: the check reads tokens
    assert not checks.setup_new_tokens(typed, prompt, chat_model, chat_tokenizer, limit=8)
    assert not checks.setup_new_tokens("Something else", prompt, chat_model, chat_tokenizer, limit=8)
    whole_result = generator(prompt, max_new_tokens=8, do_sample=False)  # a list, not the text
    assert not checks.setup_new_tokens(whole_result, prompt, chat_model, chat_tokenizer, limit=8)


def test_model_memory(solutions, chat_model):
    assert checks.setup_model_memory(solutions.exercise_3_model_memory_mb(chat_model), chat_model)
    assert not checks.setup_model_memory(269, chat_model)  # the bfloat16 figure, not float32
