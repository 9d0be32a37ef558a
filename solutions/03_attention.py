"""Worked solutions to the exercises of notebook 03 (attention).

Each function takes the objects the notebook has made and returns the answer
the exercise asks for; tests/test_attention.py feeds them to the self-checks.
"""

import torch


def exercise_1_kv_head(model, head):
    # Grouped-query attention: num_attention_heads // num_key_value_heads query
    # heads (here 9 // 3 = 3) share one key/value head, in order: 0-2 -> 0, 3-5 -> 1, 6-8 -> 2.
    group = model.config.num_attention_heads // model.config.num_key_value_heads
    return head // group


def exercise_2_previous_token_head(attentions):
    # attentions: (num_layers, num_heads, seq_len, seq_len). The weight of query i
    # on key i-1 lies on the diagonal just below the main one (offset -1).
    prev = torch.diagonal(attentions, offset=-1, dim1=-2, dim2=-1)  # (L, H, seq_len - 1)
    scores = prev.mean(-1)  # (L, H): mean weight on the previous token
    layer, head = divmod(int(scores.flatten().argmax()), scores.shape[1])
    return (layer, head)


def exercise_3_head_by_hand(model):
    """Returns ``my_head_weights(hidden_states, layer, head)``: the notebook's section 5 as a function."""
    config = model.config
    d = config.head_dim
    group = config.num_attention_heads // config.num_key_value_heads

    def rotate_half(v):
        return torch.cat([-v[:, d // 2:], v[:, :d // 2]], dim=-1)

    def my_head_weights(hidden_states, layer, head):
        # RMSNorm, the head's query rows, its key head's rows (GQA), RoPE, scaled scores, causal mask, softmax.
        block = model.model.layers[layer]
        kv = head // group
        x = block.input_layernorm(hidden_states[layer][0])  # (seq_len, hidden_size)
        q = x @ block.self_attn.q_proj.weight[head * d:(head + 1) * d].T  # (seq_len, d)
        k = x @ block.self_attn.k_proj.weight[kv * d:(kv + 1) * d].T  # (seq_len, d)
        seq_len = x.shape[0]
        inv_freq = 1.0 / config.rope_parameters["rope_theta"] ** (torch.arange(0, d, 2, device=x.device).float() / d)
        angles = torch.arange(seq_len, device=x.device).float()[:, None] * inv_freq[None, :]
        angles = torch.cat([angles, angles], dim=-1)  # (seq_len, d)
        q = q * angles.cos() + rotate_half(q) * angles.sin()
        k = k * angles.cos() + rotate_half(k) * angles.sin()
        scores = q @ k.T / d**0.5
        future = torch.triu(torch.ones(seq_len, seq_len, dtype=torch.bool, device=x.device), diagonal=1)
        return scores.masked_fill(future, float("-inf")).softmax(dim=-1)

    return my_head_weights
