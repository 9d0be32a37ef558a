"""Worked solutions to the exercises of notebook 08 (quantization and memory).

Each function takes what the exercise gives and returns the answer it asks
for; tests/test_solutions_08.py feeds them to the self-checks. The arithmetic
is written out by hand, as a learner would, rather than calling the
``llm_course.memory`` helpers that the checks use to recompute the truth.
"""

import torch

from llm_course import memory


def exercise_1_weights_gb(config):
    # Build the model on the meta device (shapes only, no memory), count its
    # parameters, and give each one the 2 bytes of bfloat16. 1 GB = 1e9 bytes.
    model = memory.build_on_meta(config)
    n_params = sum(p.numel() for p in model.parameters())
    return n_params * 2 / 1e9


def exercise_2_kv_gb(config, seq_len=8192):
    # Every layer keeps a key and a value (x 2) for every key/value head (8 in
    # Llama-3-8B, not the 32 query heads: grouped-query attention), each of
    # head_dim numbers, for every token; bfloat16 takes 2 bytes per number.
    head_dim = config.hidden_size // config.num_attention_heads
    n_bytes = config.num_hidden_layers * 2 * config.num_key_value_heads * head_dim * seq_len * 2
    return n_bytes / 1e9


def exercise_3_predicted_tps(bandwidth_gb_s, n_params):
    # Each new token reads every int8 weight (1 byte) once, so the ceiling is
    # bandwidth in bytes per second divided by the bytes of the weights.
    return bandwidth_gb_s * 1e9 / (n_params * 1)


def exercise_4_codes(values):
    # One scale for all values: the largest magnitude becomes 127, the rest
    # scale with it and round to the nearest whole number.
    x = torch.tensor(values, dtype=torch.float32)
    return torch.round(x * (127 / x.abs().max())).to(torch.int64).tolist()
