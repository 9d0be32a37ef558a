"""llm_course.chat (notebook 07): the five steps agree with the pipeline, bad conversations get
clear messages, the helpers and the chat widget work, and the exercises' solutions pass their checks."""

import importlib.util
from pathlib import Path

import pytest
import torch
from transformers import pipeline

from llm_course import chat, checks, models, widgets

ROOT = Path(__file__).resolve().parent.parent

MESSAGES = [
    {"role": "system", "content": "You are a concise assistant. Answer in one sentence."},
    {"role": "user", "content": "What is the capital of France?"},
]


def load_solutions(stem):
    spec = importlib.util.spec_from_file_location(f"solutions_{stem}", ROOT / "solutions" / f"{stem}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def solutions():
    return load_solutions("07_chat_templates")


def echo_reply(conversation):
    return f"You said: {conversation[-1]['content']}"


# --------------------------------------------------------------------------
# Bad input gets a clear message
# --------------------------------------------------------------------------


@pytest.mark.parametrize("bad, match", [
    ([{"content": "Hello!"}], r"Message 0 has no 'role'.*system, user, assistant"),
    ([{"role": "human", "content": "Hello!"}], r"unknown role 'human'.*Valid roles are system, user, assistant"),
    ([], r"The conversation is empty: give at least one message"),
    ("Hello!", r"A conversation is a list of messages, not str"),
    ({"role": "user", "content": "Hello!"}, r"a list of messages, not dict"),
    ([{"role": "user", "content": "Hi"}, "Hello"], r"Message 1 is a str"),
    ([{"role": "user"}], r"Message 0 \(user\) has no 'content'"),
    ([{"role": "user", "content": 42}], r"content of type int.*make it a string"),
])
def test_validate_messages_rejects_bad_conversations(bad, match):
    with pytest.raises(ValueError, match=match):
        chat.validate_messages(bad)


def test_validate_messages_returns_a_clean_copy():
    original = [{"role": "user", "content": "Hi", "name": "extra"}]
    checked = chat.validate_messages(original)
    assert checked == [{"role": "user", "content": "Hi"}]
    checked.append({"role": "assistant", "content": "Hello"})
    assert len(original) == 1


def test_generate_reply_rejects_bad_input_before_generating(chat_model, chat_tokenizer):
    with pytest.raises(ValueError, match="empty"):
        chat.generate_reply(chat_model, chat_tokenizer, [])
    with pytest.raises(ValueError, match="unknown role"):
        chat.generate_reply(chat_model, chat_tokenizer, [{"role": "bot", "content": "Hi"}])
    with pytest.raises(ValueError, match="max_new_tokens must be at least 1"):
        chat.generate_reply(chat_model, chat_tokenizer, MESSAGES, max_new_tokens=0)


def test_a_base_model_without_a_template_gets_a_clear_message(chat_tokenizer):
    gemma = models.load_tokenizer("gemma3-270m")
    assert gemma.chat_template is None
    with pytest.raises(ValueError, match="chat_template"):  # what transformers itself does
        gemma.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    with pytest.raises(ValueError, match=r"no chat template.*base model.*instruction-tuned"):
        chat.check_chat_template(gemma)
    with pytest.raises(ValueError, match="대화 템플릿이 없습니다"):
        chat.generate_reply(None, gemma, MESSAGES)  # refused before the model is touched
    assert chat.check_chat_template(chat_tokenizer) == chat_tokenizer.chat_template


# --------------------------------------------------------------------------
# The five steps agree with the library
# --------------------------------------------------------------------------


def test_generate_reply_equals_the_pipeline(chat_model, chat_tokenizer):
    generator = pipeline("text-generation", model=chat_model, tokenizer=chat_tokenizer)
    from_pipeline = generator(MESSAGES, max_new_tokens=12, do_sample=False)[0]["generated_text"][-1]
    assert from_pipeline["role"] == "assistant"
    assert chat.generate_reply(chat_model, chat_tokenizer, MESSAGES, max_new_tokens=12) == from_pipeline["content"]
    assert from_pipeline["content"] == "The capital of France is Paris."  # the lesson's quick start


def test_steps_two_and_three_equal_tokenize_true(chat_tokenizer):
    text = chat_tokenizer.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    by_hand = chat_tokenizer(text, add_special_tokens=False)["input_ids"]
    at_once = chat_tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=True, tokenize=True,
                                                 return_dict=True)["input_ids"]
    assert by_hand == at_once
    assert text.endswith("<|im_start|>assistant\n")


def test_a_bos_adding_tokenizer_doubles_the_first_token_and_both_fixes_work(chat_tokenizer):
    """The lesson's section 4.1, as it claims."""
    bos_tokenizer = models.load_tokenizer("smollm2-135m-instruct", add_bos_token=True)
    text = chat_tokenizer.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    right = chat_tokenizer(text, add_special_tokens=False)["input_ids"]
    assert chat_tokenizer(text)["input_ids"] == right  # SmolLM2's tokenizer adds nothing itself
    assert bos_tokenizer(text)["input_ids"] == [right[0]] + right
    assert bos_tokenizer(text, add_special_tokens=False)["input_ids"] == right
    assert bos_tokenizer.apply_chat_template(MESSAGES, add_generation_prompt=True, tokenize=True,
                                             return_dict=True)["input_ids"] == right


# --------------------------------------------------------------------------
# Showing special tokens, the lesson's template, transcripts, sizes
# --------------------------------------------------------------------------


def test_mark_special_tokens(chat_tokenizer):
    text = chat_tokenizer.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    marked = chat.mark_special_tokens(text, chat_tokenizer)
    ids = chat_tokenizer(text, add_special_tokens=False)["input_ids"]
    assert marked.count("⟦<|im_start|>⟧") == ids.count(chat_tokenizer.convert_tokens_to_ids("<|im_start|>")) == 3
    assert marked.replace("⟦", "").replace("⟧", "").replace("↵", "") == text
    assert chat.mark_special_tokens("no specials here", chat_tokenizer) == "no specials here"


def test_special_tokens_html_escapes_content(chat_tokenizer):
    messages = [{"role": "user", "content": "Is <b>bold</b> & fine?"}]
    text = chat_tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    page = chat.special_tokens_html(text, chat_tokenizer)
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; fine?" in page
    assert page.count("<span") == text.count("<|im_start|>") + text.count("<|im_end|>")


def test_lesson_template_renders_zephyr_style_without_special_tokens(chat_tokenizer):
    rendered = chat_tokenizer.apply_chat_template(MESSAGES, chat_template=chat.LESSON_TEMPLATE, tokenize=False,
                                                  add_generation_prompt=True)
    assert rendered == ("<|system|>\nYou are a concise assistant. Answer in one sentence.</s>\n"
                        "<|user|>\nWhat is the capital of France?</s>\n<|assistant|>\n")
    assert not any(s in rendered for s in chat_tokenizer.all_special_tokens)
    assert chat_tokenizer.tokenize("<|user|>") == ["<", "|", "user", "|", ">"]


def test_chat_step_is_pure_and_checks_its_input():
    start = [{"role": "system", "content": "Be brief."}]
    after = chat.chat_step(start, "  Hello  ", echo_reply)
    assert start == [{"role": "system", "content": "Be brief."}]  # not changed
    assert after[1:] == [{"role": "user", "content": "Hello"},
                         {"role": "assistant", "content": "You said: Hello"}]
    assert chat.chat_step([], "Hi", echo_reply)[0]["role"] == "user"
    with pytest.raises(ValueError, match="the user's text is empty"):
        chat.chat_step(start, "   ", echo_reply)
    with pytest.raises(ValueError, match="must return the reply as a string"):
        chat.chat_step(start, "Hi", lambda m: None)
    with pytest.raises(ValueError, match="unknown role"):
        chat.chat_step([{"role": "bot", "content": "x"}], "Hi", echo_reply)


def test_format_transcript():
    text = chat.format_transcript([{"role": "user", "content": "Hi"},
                                   {"role": "assistant", "content": "Hello\nthere"}])
    assert text == "     user: Hi\nassistant: Hello\n           there"


@pytest.mark.parametrize("name, expected", [
    ("SmolLM2-135M-Instruct", 135e6),
    ("HuggingFaceTB/SmolLM2-360M-Instruct", 360e6),
    ("Qwen/Qwen2.5-0.5B-Instruct", 0.5e9),
    ("meta-llama/Llama-3.1-8B-Instruct", 8e9),
    ("LGAI-EXAONE/EXAONE-3.5-7.8B-Instruct", 7.8e9),
    ("google/gemma-2-2b-it", 2e9),
    ("mistralai/Mixtral-8x7B-Instruct-v0.1", 7e9),
])
def test_params_from_name(name, expected):
    assert chat.params_from_name(name) == pytest.approx(expected)


def test_params_from_name_without_a_size():
    with pytest.raises(ValueError, match="read the parameter count on the model card"):
        chat.params_from_name("gpt2")
    with pytest.raises(ValueError, match="as a string"):
        chat.params_from_name(8)


def test_eight_billion_parameters_take_16_gb_in_bf16():
    n = chat.params_from_name("meta-llama/Llama-3.1-8B-Instruct")
    assert n * torch.finfo(torch.bfloat16).bits / 8 / 1e9 == 16.0


# --------------------------------------------------------------------------
# The chat widget
# --------------------------------------------------------------------------


def test_chat_transcript_html():
    assert "Start the conversation" in widgets.chat_transcript_html([])
    page = widgets.chat_transcript_html([{"role": "user", "content": "<script>"}])
    assert "&lt;script&gt;" in page and "<b" in page
    with pytest.raises(ValueError, match="unknown role"):
        widgets.chat_transcript_html([{"role": "robot", "content": "x"}])


def test_chat_widget_send_and_reset():
    box = widgets.chat_widget(echo_reply, system_prompt="Be brief.")
    transcript, (text_box, send, reset), status = box.children[0], box.children[1].children, box.children[2]
    assert "Be brief." in transcript.value
    text_box.value = "Hello"
    send.click()
    assert box.messages[-1] == {"role": "assistant", "content": "You said: Hello"}
    assert "You said: Hello" in transcript.value and text_box.value == "" and status.value == ""
    send.click()  # empty message: a message, not an exception
    assert "empty" in status.value and len(box.messages) == 3
    reset.click()
    assert box.messages == [{"role": "system", "content": "Be brief."}]
    assert "You said" not in transcript.value


# --------------------------------------------------------------------------
# Exercises: solutions pass, wrong answers fail, blanks are "not answered"
# --------------------------------------------------------------------------

EXERCISE_MESSAGES = [
    {"role": "system", "content": "You are a helpful librarian."},
    {"role": "user", "content": "Suggest a book about the sea."},
]


def test_exercise_1_prompt_ids(solutions, chat_tokenizer):
    ids = solutions.exercise_1_prompt_ids(chat_tokenizer, EXERCISE_MESSAGES)
    assert checks.chat_prompt_ids(ids, chat_tokenizer, EXERCISE_MESSAGES)
    assert checks.chat_prompt_ids(torch.tensor([ids]), chat_tokenizer, EXERCISE_MESSAGES)  # a tensor is fine too
    no_prompt = chat_tokenizer.apply_chat_template(EXERCISE_MESSAGES, add_generation_prompt=False, tokenize=True,
                                                   return_dict=True)["input_ids"]
    result = checks.chat_prompt_ids(no_prompt, chat_tokenizer, EXERCISE_MESSAGES)
    assert not result and "add_generation_prompt=True" in result.message
    result = checks.chat_prompt_ids([ids[0]] + ids, chat_tokenizer, EXERCISE_MESSAGES)
    assert not result and "add_special_tokens=False" in result.message
    assert not checks.chat_prompt_ids([1, 2, 3], chat_tokenizer, EXERCISE_MESSAGES)
    assert not checks.chat_prompt_ids(None, chat_tokenizer, EXERCISE_MESSAGES)


def test_exercise_2_next_messages(solutions):
    history = [{"role": "user", "content": "What is the capital of France?"}]
    reply, question = "The capital of France is Paris.", "How many people live there?"
    answer = solutions.exercise_2_next_messages(history, reply, question)
    assert checks.chat_next_messages(answer, history, reply, question)
    forgot_reply = history + [{"role": "user", "content": question}]
    result = checks.chat_next_messages(forgot_reply, history, reply, question)
    assert not result and "reply is missing" in result.message
    result = checks.chat_next_messages([{"content": question}], history, reply, question)
    assert not result and "no 'role'" in result.message
    assert not checks.chat_next_messages(None, history, reply, question)


def test_exercise_3_template(solutions, chat_tokenizer):
    assert checks.chat_template_no_default_system(solutions.exercise_3_template(), chat_tokenizer)
    assert not checks.chat_template_no_default_system(chat_tokenizer.chat_template, chat_tokenizer)
    assert not checks.chat_template_no_default_system(chat.LESSON_TEMPLATE, chat_tokenizer)
    result = checks.chat_template_no_default_system("{% for m in messages %}", chat_tokenizer)
    assert not result and "does not run" in result.message
    assert not checks.chat_template_no_default_system(None, chat_tokenizer)
