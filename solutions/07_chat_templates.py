"""Worked solutions to the exercises of notebook 07 (chat templates).

Each function takes the objects the notebook has made and returns the answer
the exercise asks for; tests/test_chat.py feeds them to the self-checks.
"""


def exercise_1_prompt_ids(tokenizer, messages):
    # The template adds every special token itself and, with
    # add_generation_prompt=True, ends by opening the assistant's turn.
    # Asking it for tokens directly means nothing is added a second time.
    return tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                         return_dict=True)["input_ids"]


def exercise_2_next_messages(history, reply, question):
    # The model keeps no memory between calls: the whole conversation, with
    # its own earlier answer, goes back in every time.
    return history + [{"role": "assistant", "content": reply}, {"role": "user", "content": question}]


def exercise_3_template():
    # The model's own template, with the `if loop.first and ... != 'system'`
    # branch (the default system prompt) removed.
    return (
        "{% for message in messages %}"
        "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
        "{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
    )
