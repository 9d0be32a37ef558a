"""Chat templates: checking, rendering and replying to conversations (introduced in notebook 07).

A chat model reads one long token sequence, not a list of messages. The
*chat template* (a Jinja program stored with the tokenizer) turns a list of
``{"role": ..., "content": ...}`` messages into that sequence, with the
special tokens the model was trained on (``<|im_start|>``, ``<|im_end|>`` for
SmolLM2, which uses the ChatML format). ``tokenizer.apply_chat_template`` runs
it; notebook 07 shows every step and the pitfalls around it.

This module holds the plumbing around those library calls:

* :func:`validate_messages`: a clear error for a malformed conversation,
  before the template fails with a Jinja traceback or renders nonsense;
* :func:`check_chat_template`: a clear error for a tokenizer with no template
  at all (a base model such as Gemma 3 270M, which was never instruction-tuned);
* :func:`mark_special_tokens` / :func:`special_tokens_html`: the rendered
  text with its special tokens made visible;
* :func:`generate_reply`: the five low-level steps of the text-generation
  pipeline in one function (notebook 07 writes them out one by one; a test
  shows this gives the pipeline's own reply);
* :func:`chat_step` and :func:`format_transcript`: one turn of a multi-turn
  chat, as a pure function the chat widget and the tests call;
* :data:`LESSON_TEMPLATE`: a template in another family's format (Zephyr
  style), written for the lesson, to show what a wrong template does;
* :func:`params_from_name`: the parameter count a model's name announces.
"""

from __future__ import annotations

import html
import re

from .i18n import bilingual

VALID_ROLES = ("system", "user", "assistant")

# A chat template in the style of the Zephyr family (<|user|> ... </s>), written
# for notebook 07. SmolLM2 was trained on ChatML (<|im_start|>user ... <|im_end|>),
# so for SmolLM2 this is "a template from another model family".
LESSON_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + '</s>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)

_EXAMPLE = "[{'role': 'user', 'content': 'Hello!'}]"


def validate_messages(messages) -> list[dict]:
    """Check a conversation and return it as a new list of ``{"role", "content"}`` dicts. Notebook 07.

    A conversation is a non-empty list of dicts, each with a ``role`` (one
    of :data:`VALID_ROLES`) and a string ``content``. Anything else raises a
    ``ValueError`` that names the message at fault and shows a valid example.
    """
    if isinstance(messages, (str, dict)) or not hasattr(messages, "__iter__"):
        raise ValueError(bilingual(
            f"대화는 메시지의 목록(list)이어야 합니다({type(messages).__name__}가 아니라). 예: {_EXAMPLE}",
            f"A conversation is a list of messages, not {type(messages).__name__}. For example: {_EXAMPLE}"))
    messages = list(messages)
    if not messages:
        raise ValueError(bilingual(f"대화가 비어 있습니다. 메시지를 하나 이상 넣으세요. 예: {_EXAMPLE}",
                                   f"The conversation is empty: give at least one message, for example {_EXAMPLE}"))
    checked = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise ValueError(bilingual(
                f"메시지 {i}번의 형식이 {type(message).__name__}입니다. 'role'과 'content'가 있는 딕셔너리여야 합니다. "
                f"예: {_EXAMPLE}",
                f"Message {i} is a {type(message).__name__}, not a dict with 'role' and 'content'. "
                f"For example: {_EXAMPLE}"))
        if "role" not in message:
            raise ValueError(bilingual(
                f"메시지 {i}번에 'role'이 없습니다(있는 키: {sorted(message)}). {', '.join(VALID_ROLES)} 중 하나를 "
                "넣으세요. 예: {'role': 'user', 'content': ...}",
                f"Message {i} has no 'role' (it has {sorted(message)}). "
                f"Add one of {', '.join(VALID_ROLES)}, for example {{'role': 'user', 'content': ...}}."))
        role = message["role"]
        if role not in VALID_ROLES:
            raise ValueError(bilingual(
                f"메시지 {i}번에 알 수 없는 역할이 있습니다: {role!r}. 쓸 수 있는 역할은 "
                f"{', '.join(VALID_ROLES)}(소문자)입니다. 'system'은 행동 방식, 'user'는 사람, 'assistant'는 모델입니다.",
                f"Message {i} has the unknown role {role!r}. Valid roles are {', '.join(VALID_ROLES)} "
                "(lower case): 'system' sets the behaviour, 'user' is the person, 'assistant' the model."))
        if "content" not in message:
            raise ValueError(bilingual(f"메시지 {i}번({role})에 'content'가 없습니다. 'content': '...'로 글을 넣으세요.",
                                       f"Message {i} ({role}) has no 'content'. Add the text as 'content': '...'."))
        if not isinstance(message["content"], str):
            raise ValueError(bilingual(
                f"메시지 {i}번({role})의 content가 {type(message['content']).__name__} 형식입니다. "
                "이 과정의 모델은 글(문자열)만 받으니 문자열로 바꾸세요.",
                f"Message {i} ({role}) has content of type {type(message['content']).__name__}; "
                "this course's models take plain text: make it a string."))
        checked.append({"role": role, "content": message["content"]})
    return checked


def check_chat_template(tokenizer) -> str:
    """The tokenizer's chat template; a bilingual ``ValueError`` if it has none (notebook 07).

    A base model (pretrained only, such as ``gemma3-270m``) ships no template:
    ``tokenizer.chat_template`` is ``None`` and ``apply_chat_template`` fails.
    The message says why and what to use instead.
    """
    template = getattr(tokenizer, "chat_template", None)
    if not template:
        raise ValueError(bilingual(
            "이 토크나이저에는 대화 템플릿이 없습니다(tokenizer.chat_template이 None). 사전 학습만 한 기본 모델(base model)이라 "
            "메시지 목록을 어떤 형식의 글로 바꿀지 배운 적이 없습니다. 대화를 하려면 지시 튜닝한 모델(예: "
            "models.load_tokenizer('smollm2-135m-instruct'))을 쓰고, 기본 모델에는 메시지 목록 대신 이어 쓸 글을 "
            "주세요(05 노트북).",
            "This tokenizer has no chat template (tokenizer.chat_template is None): it belongs to a base model, "
            "pretrained only, which never learned a format for turning a list of messages into text. To chat, use "
            "an instruction-tuned model (for example models.load_tokenizer('smollm2-135m-instruct')); give a base "
            "model text to continue instead of a list of messages (notebook 05)."))
    return template


# --------------------------------------------------------------------------
# Making special tokens visible
# --------------------------------------------------------------------------


def _special_pattern(tokenizer) -> re.Pattern:
    specials = sorted(set(tokenizer.all_special_tokens), key=len, reverse=True)
    if not specials:
        raise ValueError(bilingual("이 토크나이저에는 특수 토큰이 없어서 표시할 것이 없습니다.",
                                   "This tokenizer declares no special tokens, so there is nothing to mark."))
    return re.compile("|".join(re.escape(s) for s in specials))


def mark_special_tokens(text: str, tokenizer, left: str = "⟦", right: str = "⟧", newline: str = "↵") -> str:
    """``text`` with each of the tokenizer's special tokens wrapped in ⟦ ⟧ and newlines shown as ↵. Notebook 07.

    Newlines stay line breaks (the ↵ only makes them visible). Plain text,
    so a notebook cell can print it and nbval can compare it.
    """
    marked = _special_pattern(tokenizer).sub(lambda m: f"{left}{m.group(0)}{right}", text)
    return marked.replace("\n", f"{newline}\n") if newline else marked


def special_tokens_html(text: str, tokenizer) -> str:
    """HTML of ``text`` with special tokens on a coloured background and newlines shown as ↵. Notebook 07.

    Returns the HTML string; display it with ``IPython.display.HTML``.
    """
    pattern = _special_pattern(tokenizer)
    parts, last = [], 0
    for m in pattern.finditer(text):
        parts.append(html.escape(text[last:m.start()]).replace("\n", "↵\n"))
        parts.append(f'<span style="background:#ffd6a5;color:#7a2e00;border-radius:3px;'
                     f'padding:0 2px">{html.escape(m.group(0))}</span>')
        last = m.end()
    parts.append(html.escape(text[last:]).replace("\n", "↵\n"))
    return ('<pre style="white-space:pre-wrap;line-height:1.5;font-size:90%">' + "".join(parts) + "</pre>")


# --------------------------------------------------------------------------
# Replying: the five steps of the text-generation pipeline
# --------------------------------------------------------------------------


def generate_reply(model, tokenizer, messages, *, max_new_tokens: int = 40, do_sample: bool = False,
                   streamer=None, **generate_kwargs) -> str:
    """The assistant's reply to ``messages``: the pipeline's five steps in one function. Notebook 07.

    1. (the model and tokenizer are already loaded), 2. render the chat with
    ``apply_chat_template(..., add_generation_prompt=True)``, 3. tokenize it
    without adding special tokens a second time, 4. ``generate``, 5. decode
    only the new tokens. Greedy by default, like the lesson; a test checks
    it returns what ``pipeline("text-generation")`` returns. ``streamer`` (a
    ``TextStreamer`` or ``TextIteratorStreamer``) is passed to ``generate``.
    """
    import torch

    messages = validate_messages(messages)
    check_chat_template(tokenizer)
    if max_new_tokens < 1:
        raise ValueError(bilingual(f"max_new_tokens는 1 이상이어야 합니다. 들어온 값: {max_new_tokens}",
                                   f"max_new_tokens must be at least 1; got {max_new_tokens}."))
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False).to(model.device)
    with torch.no_grad():
        output_ids = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=do_sample,
                                    streamer=streamer, **generate_kwargs)
    new_tokens = output_ids[0, inputs["input_ids"].shape[1]:]
    return tokenizer.decode(new_tokens, skip_special_tokens=True)


def chat_step(messages, user_text: str, reply_fn) -> list[dict]:
    """One turn of a multi-turn chat: add the user's text, ask ``reply_fn``, add its reply. Notebook 07.

    Returns a new list (``messages`` is not changed). ``reply_fn`` takes the
    conversation so far and returns the assistant's text (for example
    ``lambda m: generate_reply(model, tokenizer, m)``). An empty or blank
    ``user_text`` raises ``ValueError``.
    """
    if not isinstance(user_text, str) or not user_text.strip():
        raise ValueError(bilingual("먼저 메시지를 입력하세요. 사용자의 글이 비어 있습니다.",
                                   "Type a message first: the user's text is empty."))
    conversation = validate_messages(messages) if messages else []
    conversation.append({"role": "user", "content": user_text.strip()})
    reply = reply_fn(conversation)
    if not isinstance(reply, str):
        raise ValueError(bilingual(f"reply_fn은 답을 문자열로 돌려줘야 합니다({type(reply).__name__}를 돌려줌).",
                                   f"reply_fn must return the reply as a string; it returned {type(reply).__name__}."))
    conversation.append({"role": "assistant", "content": reply})
    return conversation


def format_transcript(messages, *, width: int = 9) -> str:
    """The conversation as plain text, one ``role: content`` block per message. Notebook 07."""
    lines = []
    for message in validate_messages(messages):
        content = message["content"].strip().replace("\n", "\n" + " " * (width + 2))
        lines.append(f"{message['role']:>{width}}: {content}")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Choosing a model
# --------------------------------------------------------------------------

_SIZE = re.compile(r"(?<![0-9.])(?<![A-WYZa-wyz])(\d+(?:\.\d+)?)\s*([MBT])(?![A-Za-z])", re.IGNORECASE)
_SCALE = {"m": 1e6, "b": 1e9, "t": 1e12}


def params_from_name(name: str) -> float:
    """The number of parameters a model's name announces: ``"Llama-3.1-8B-Instruct"`` gives 8e9. Notebook 07.

    Reads the last ``<number>M`` / ``<number>B`` in the name (after any
    ``owner/``). Mixture-of-experts names such as ``8x7B`` give the size of
    one expert, so check the model card. A name without a size raises
    ``ValueError``: read the model card instead.
    """
    if not isinstance(name, str):
        raise ValueError(bilingual(f"모델 이름을 문자열로 주세요({type(name).__name__}가 들어왔습니다).",
                                   f"Give the model name as a string; got {type(name).__name__}."))
    found = _SIZE.findall(name.split("/")[-1])
    if not found:
        raise ValueError(bilingual(
            f"이름 {name!r}에 '135M', '8B' 같은 크기가 없습니다. 모델 카드에서 파라미터 수를 확인하세요.",
            f"No size such as '135M' or '8B' in the name {name!r}; read the parameter count on the model card."))
    number, unit = found[-1]
    return float(number) * _SCALE[unit.lower()]
