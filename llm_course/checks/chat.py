"""Self-checks of notebook 07 (chat templates): ``chat_*``."""

from __future__ import annotations

from .core import (AnswerProblem, CheckArgumentError, CheckResult, as_int_list, as_text, check, not_answered,
                   reference, reference_tokenizer, self_check)


def _chat_tokenizer(tokenizer):
    """A transformers tokenizer that has a chat template (``chat.check_chat_template`` says why it must)."""
    from ..chat import check_chat_template

    reference_tokenizer(tokenizer)
    reference(tokenizer, "tokenizer", check_chat_template)
    return tokenizer


@self_check
def chat_prompt_ids(answer, tokenizer, messages) -> CheckResult:
    """Exercise 07.1: the token ids of ``messages``, ready for ``generate`` (generation prompt, no doubled special tokens)."""
    from ..chat import validate_messages

    _chat_tokenizer(tokenizer)
    messages = reference(messages, "messages", validate_messages)
    if answer is None:
        return not_answered("`my_ids`에 대화를 토큰 ID 목록으로 만들어 넣으세요.",
                            "put the conversation's token ids (a list of ints) into `my_ids`.")
    if hasattr(answer, "keys") and "input_ids" in answer:  # a BatchEncoding: its ids are what is asked for
        answer = answer["input_ids"]
    answer = as_int_list(answer)
    truth = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                          return_dict=True)["input_ids"]
    no_prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=False, tokenize=True,
                                              return_dict=True)["input_ids"]
    if list(answer) == truth:
        return check(True, (f"맞습니다. 생성 프롬프트까지 포함해 토큰 {len(truth)}개입니다.",
                            f"Right: {len(truth)} tokens, generation prompt included."), ("", ""))
    if list(answer) == no_prompt:
        hint = ("끝에 assistant 차례를 여는 생성 프롬프트가 없습니다. `add_generation_prompt=True`를 넣으세요.",
                "The generation prompt that opens the assistant's turn is missing: add `add_generation_prompt=True`.")
    elif len(answer) > len(truth) and list(answer[-len(truth):]) == truth:
        hint = ("앞에 특수 토큰이 한 번 더 붙었습니다. 템플릿이 이미 넣었으니 `add_special_tokens=False`로 토큰화하세요.",
                "A special token was added a second time at the start: the template already put it there; "
                "tokenize with `add_special_tokens=False`.")
    else:
        hint = ("정답과 다릅니다. `tokenizer.apply_chat_template(messages, add_generation_prompt=True, "
                "return_dict=True)[\"input_ids\"]`를 살펴보세요.",
                "Not the expected ids. Look at `tokenizer.apply_chat_template(messages, add_generation_prompt=True, "
                "return_dict=True)[\"input_ids\"]`.")
    return check(False, ("", ""), hint)


@self_check
def chat_next_messages(answer, history, reply: str, question: str) -> CheckResult:
    """Exercise 07.2: the conversation for the next turn: history, the assistant's reply, then the new question."""
    from ..chat import validate_messages

    history = reference(history, "history", validate_messages)
    for name, value in (("reply", reply), ("question", question)):
        if not isinstance(value, str):
            raise CheckArgumentError(name, f"`{name}` 인자는 문자열이어야 합니다.", f"`{name}` must be a string.")
    if answer is None:
        return not_answered("`next_messages`에 다음 차례의 대화 목록을 넣으세요.",
                            "put the conversation for the next turn into `next_messages`.")
    try:
        answer = validate_messages(answer)
    except (TypeError, ValueError) as err:
        ko, _, en = str(err).partition("\n")
        raise AnswerProblem(f"대화 형식이 올바르지 않습니다: {ko}", f"The conversation is not well formed: {en or ko}") from None
    truth = history + [{"role": "assistant", "content": reply}, {"role": "user", "content": question}]
    if answer == truth:
        return check(True, (f"맞습니다. 메시지 {len(truth)}개, assistant의 답 다음에 새 질문이 옵니다.",
                            f"Right: {len(truth)} messages; the assistant's reply, then the new question."),
                     ("", ""))
    if answer[-1:] == truth[-1:] and len(answer) == len(truth) - 1:
        hint = ("assistant의 답이 빠졌습니다. 모델은 지난 답을 기억하지 못하니, 대화 목록에 직접 넣어야 합니다.",
                "The assistant's reply is missing: the model remembers nothing, so the list must carry it.")
    elif answer[-1]["role"] != "user":
        hint = ("마지막 메시지는 새 질문(role 'user')이어야 합니다.",
                "The last message must be the new question (role 'user').")
    else:
        hint = ("순서를 확인하세요: 지금까지의 대화, {'role': 'assistant', ...}, {'role': 'user', ...}.",
                "Check the order: the conversation so far, {'role': 'assistant', ...}, {'role': 'user', ...}.")
    return check(False, ("", ""), hint)


@self_check
def chat_template_no_default_system(answer, tokenizer) -> CheckResult:
    """Exercise 07.3: a Jinja chat template that renders ChatML like the model's own, minus the default system prompt."""
    _chat_tokenizer(tokenizer)
    if answer is None:
        return not_answered("`my_template`에 Jinja 템플릿 문자열을 넣으세요.",
                            "put your Jinja template string into `my_template`.")
    answer = as_text(answer, ("템플릿은 문자열입니다.", "The template is a string."))
    user = [{"role": "user", "content": "Hi!"}]
    cases = [
        ([{"role": "system", "content": "Be brief."}, *user, {"role": "assistant", "content": "Hello."},
          {"role": "user", "content": "Bye."}], True),
        ([{"role": "system", "content": "Be brief."}, *user], False),
    ]
    rendered = []
    try:  # running the learner's template: a Jinja error is the learner's to fix, not a crash
        for messages, gen in cases:
            rendered.append(tokenizer.apply_chat_template(messages, chat_template=answer, tokenize=False,
                                                          add_generation_prompt=gen))
        got = tokenizer.apply_chat_template(user, chat_template=answer, tokenize=False, add_generation_prompt=True)
    except Exception as err:  # noqa: BLE001
        raise AnswerProblem(f"템플릿을 실행할 수 없습니다: {type(err).__name__}: {err}",
                            f"The template does not run: {type(err).__name__}: {err}") from None
    for (messages, gen), mine in zip(cases, rendered):
        want = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen)
        if mine != want:
            return check(False, ("", ""),
                         (f"시스템 메시지가 있는 대화(add_generation_prompt={gen})에서 원래 템플릿과 다릅니다.\n"
                          f"   원래: {want!r}\n   내 것: {mine!r}",
                          f"With a system message (add_generation_prompt={gen}) it differs from the model's "
                          f"template.\n   expected: {want!r}\n   yours:    {mine!r}"))
    want = "<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n"
    return check(
        got == want,
        ("맞습니다. 시스템 메시지가 없으면 아무것도 끼워 넣지 않고, 나머지는 원래 템플릿과 똑같습니다.",
         "Right: nothing is inserted without a system message, and everything else matches the model's template."),
        (f"시스템 메시지가 없을 때 결과가 {want!r}이어야 하는데 {got!r}입니다.",
         f"Without a system message it should give {want!r}, not {got!r}."),
    )
