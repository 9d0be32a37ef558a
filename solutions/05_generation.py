"""Worked solutions to the exercises of notebook 05 (generation and its pitfalls).

Each function takes the objects the notebook has made and returns the answer
the exercise asks for; tests/test_generation.py feeds them to the self-checks.
"""

import torch


def exercise_1_new_text(tokenizer, output_ids, input_length):
    # A decoder-only model returns the prompt followed by the new tokens:
    # slice the prompt off before decoding, and drop the end token <|im_end|>.
    return tokenizer.decode(output_ids[0, input_length:], skip_special_tokens=True)


def exercise_2_top_p_count(logits, top_p):
    # Sort the probabilities from largest, add them up, and keep every token
    # until the running sum reaches top_p (the token that crosses it is kept).
    probs = torch.sort(logits.float().softmax(dim=-1), descending=True).values
    mass_before = probs.cumsum(dim=-1) - probs
    return int((mass_before < top_p).sum())


def exercise_3_batched_left_padding(model, tokenizer, prompts, max_new_tokens):
    # Pad on the left so that every prompt's last real token sits at the end,
    # where generate reads the next-token distribution, and pass the attention
    # mask so the padding is ignored. The new tokens start after the padded length.
    tokenizer.padding_side = "left"
    batch = tokenizer(prompts, return_tensors="pt", padding=True)
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False)
    start = batch["input_ids"].shape[1]
    return [tokenizer.decode(row[start:], skip_special_tokens=True) for row in out]
