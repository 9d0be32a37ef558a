"""Worked solutions to the exercises of notebook 09 (fine-tuning a causal LM on a laptop CPU).

Each function takes what the notebook's exercise cell has and returns the
answer the exercise asks for; tests/test_finetune.py feeds them to the
self-checks in llm_course.checks.
"""

import math


def exercise_1_group_texts(toy_batch, block_size):
    # By hand, for the notebook's batch: the rows joined are
    #   11 12 13 | 21 22 23 24 25 | 31 32 | 41 42 43   (13 tokens)
    # cut every 4 tokens: [11 12 13 21] [22 23 24 25] [31 32 41 42], and 43
    # is left over, shorter than a block, so it is dropped.
    stream = [token for row in toy_batch["input_ids"] for token in row]
    n_full = len(stream) // block_size * block_size
    return [stream[i: i + block_size] for i in range(0, n_full, block_size)]


def exercise_2_perplexity(eval_loss):
    # transformers' loss is a mean cross-entropy in nats (natural log), so
    # perplexity is e to that power: exp(1.75) = 5.75.
    return math.exp(eval_loss)


def exercise_3_lora_count(hidden_size=576, kv_size=192, num_layers=30, r=8):
    # LoRA puts A (r × in) and B (out × r) beside each targeted weight: r × (in + out).
    # q_proj: 576 -> 576; v_proj: 576 -> 192 (3 key/value heads of 64: GQA).
    q_proj = r * (hidden_size + hidden_size)
    v_proj = r * (hidden_size + kv_size)
    return num_layers * (q_proj + v_proj)  # 30 × (9,216 + 6,144) = 460,800


def exercise_4_completion_labels(full_ids, prompt_ids):
    # The loss skips -100: hide the prompt (system prompt, question and the
    # "<|im_start|>assistant\n" that opens the answer) and keep the answer's
    # own ids. No shift here: the model shifts labels by one inside its loss.
    n = len(prompt_ids)
    assert list(full_ids[:n]) == list(prompt_ids), "the chat must start with the prompt"
    return [-100] * n + list(full_ids[n:])


def exercise_5_training_memory(n_params):
    # float32 AdamW: 4 (weight) + 4 (gradient) + 8 (two Adam moments) = 16 bytes
    # per parameter, before activations: 16 × 361,821,120 = 5.79 GB.
    return 16 * n_params / 1e9
