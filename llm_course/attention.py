"""Attention weights made visible, and one head computed by hand (introduced in notebook 03).

A transformer layer mixes information between positions with attention
(Vaswani et al., 2017, "Attention Is All You Need"): each position's query is
compared with every position's key, the scaled scores are masked and turned
into weights by a softmax, and the weights average the values. transformers
returns those weights with ``output_attentions=True``, but only when the model
runs the plain ("eager") implementation; the fused kernels (``sdpa``, flash)
never build the weight matrix and so have nothing to return.

This module holds the plumbing that the notebook, its widget and its tests
share: running a text with validation that gives clear messages, readable
token labels, scores that find heads with a job, and :func:`head_by_hand`, a
from-scratch recomputation of one head of a Llama-family model (SmolLM2) with
its two details handled: grouped-query attention (GQA: several query heads
share one key head) and rotary position embeddings (RoPE, Su et al., 2021).
A unit test shows :func:`head_by_hand` equals the model's own weights.

Shapes use the transformers vocabulary: ``num_layers``, ``num_heads``,
``seq_len``, ``head_dim``. ``attentions`` below always means one tensor of
shape ``(num_layers, num_heads, seq_len, seq_len)`` for a single text.
"""

from __future__ import annotations

import torch

from .embeddings import rope_inverse_frequencies
from .i18n import bilingual

DISPLAY_MAX_TOKENS = 40  # heatmaps with more labels than this are unreadable


# --------------------------------------------------------------------------
# Running a text and getting its attention weights
# --------------------------------------------------------------------------


def context_length(model_or_config) -> int | None:
    """The longest input a model was trained on, ``config.max_position_embeddings``; None if its config
    does not say (notebooks 03 and 09; 01 reads the field itself)."""
    config = getattr(model_or_config, "config", model_or_config)
    return getattr(config, "max_position_embeddings", None)


def require_eager(model) -> None:
    """Raise a clear error unless ``model`` runs eager attention (the only kind that returns weights). Notebook 03."""
    impl = getattr(model.config, "_attn_implementation", None)
    if impl != "eager":
        raise ValueError(bilingual(
            f"이 모델은 '{impl}' 어텐션으로 실행되어 어텐션 가중치를 돌려주지 않습니다. "
            "attn_implementation=\"eager\"로 불러오세요. 예: models.load_model(attn_implementation=\"eager\")",
            f"This model runs '{impl}' attention, which returns no attention weights. "
            "Load it with attn_implementation=\"eager\", for example "
            "models.load_model(attn_implementation=\"eager\")."))


def encode_text(tokenizer, text: str, model, max_tokens: int | None = None):
    """Tokenize ``text`` for one forward pass, refusing empty or too-long texts with a clear message. Notebook 03.

    ``max_tokens`` defaults to the model's context length; pass a smaller
    number where a figure must stay readable.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(bilingual("글이 비어 있습니다. 어텐션을 보려면 단어를 하나 이상 입력하세요.",
                                   "The text is empty: type at least one word to see its attention."))
    limit = context_length(model)
    encoded = tokenizer(text, return_tensors="pt")
    n = encoded["input_ids"].shape[1]
    if limit is not None and n > limit:
        raise ValueError(bilingual(
            f"글이 {n}토큰인데 이 모델의 문맥은 최대 {limit}토큰입니다. 글을 줄이세요.",
            f"The text has {n} tokens but the model's context holds at most {limit}; shorten the text."))
    if max_tokens is not None and n > max_tokens:
        raise ValueError(bilingual(
            f"글이 {n}토큰입니다. 이 화면은 글자가 읽히도록 최대 {max_tokens}토큰까지만 보여 줍니다. 글을 줄이세요.",
            f"The text has {n} tokens; this view shows at most {max_tokens} so the labels stay readable. "
            "Shorten the text."))
    return encoded.to(model.device)


def token_labels(tokenizer, input_ids) -> list[str]:
    """One readable label per token id (newlines shown as ``\\n``). Notebook 03.

    A token that holds only part of a Hangul syllable is labelled with the
    syllable and its part, ``안(1/3)``, instead of the "�" it decodes to alone
    (see :func:`llm_course.tokens.character_labels`).
    """
    from .tokens import character_labels

    return character_labels(tokenizer, input_ids)


def get_attentions(model, tokenizer, text: str, max_tokens: int | None = None):
    """Run ``text`` once and return ``(labels, attentions)``. Notebook 03.

    ``attentions`` has shape ``(num_layers, num_heads, seq_len, seq_len)``:
    the library's tuple of per-layer ``(1, num_heads, seq_len, seq_len)``
    tensors, stacked. Bad input (empty text, a text longer than the context
    or than ``max_tokens``, a model without eager attention) raises a
    ``ValueError`` that says what to do.
    """
    require_eager(model)
    encoded = encode_text(tokenizer, text, model, max_tokens)
    with torch.no_grad():
        out = model(**encoded, output_attentions=True)
    attentions = torch.stack(out.attentions)[:, 0]  # (num_layers, num_heads, seq_len, seq_len)
    return token_labels(tokenizer, encoded["input_ids"][0]), attentions.cpu()


def check_layer_head(attentions, layer: int, head: int) -> None:
    """Raise a ``ValueError`` naming the valid range when ``layer`` or ``head`` is out of range. Notebook 03."""
    num_layers, num_heads = attentions.shape[0], attentions.shape[1]
    for name, value, size in (("layer", layer, num_layers), ("head", head, num_heads)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < size:
            ko_name = {"layer": "층", "head": "헤드"}[name]
            raise ValueError(bilingual(
                f"{ko_name} 번호는 0부터 {size - 1}까지의 정수여야 합니다(이 모델은 {ko_name} {size}개). "
                f"들어온 값: {value!r}",
                f"{name} must be an integer from 0 to {size - 1} (this model has {size}); got {value!r}."))


# --------------------------------------------------------------------------
# Scores that find heads with a job
# --------------------------------------------------------------------------


def diagonal_scores(attentions: torch.Tensor, offset: int = 0) -> torch.Tensor:
    """Mean weight each head puts on the key ``offset`` places from the query, shape ``(num_layers, num_heads)``.

    ``offset=-1`` scores previous-token heads, ``0`` heads that look at their
    own position. Notebook 03 (exercise 2 uses ``offset=-1``).
    """
    diag = torch.diagonal(attentions, offset=offset, dim1=-2, dim2=-1)  # (L, H, seq_len - |offset|)
    if diag.shape[-1] == 0:
        raise ValueError(bilingual("이 점수를 내기에는 글이 너무 짧습니다. 토큰이 두 개 이상 필요합니다.",
                                   "The text is too short for this score: give at least two tokens."))
    return diag.mean(-1)


def first_token_scores(attentions: torch.Tensor) -> torch.Tensor:
    """Mean weight each head puts on the first token, from every later query, shape ``(num_layers, num_heads)``. Notebook 03."""
    if attentions.shape[-1] < 2:
        raise ValueError(bilingual("이 점수를 내기에는 글이 너무 짧습니다. 토큰이 두 개 이상 필요합니다.",
                                   "The text is too short for this score: give at least two tokens."))
    return attentions[..., 1:, 0].mean(-1)


def best_head(scores: torch.Tensor) -> tuple[int, int]:
    """``(layer, head)`` of the highest score in a ``(num_layers, num_heads)`` table. Notebook 03."""
    layer, head = divmod(int(scores.flatten().argmax()), scores.shape[1])
    return layer, head


def upper_triangle_mass(weights: torch.Tensor) -> torch.Tensor:
    """Total weight above the diagonal (a query looking at later keys), per matrix in ``(..., seq_len, seq_len)``. Notebook 03."""
    return torch.triu(weights, diagonal=1).sum(dim=(-2, -1))


# --------------------------------------------------------------------------
# One head by hand (Llama family: RMSNorm, GQA, RoPE)
# --------------------------------------------------------------------------


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """``[x1, x2] -> [-x2, x1]`` over the last dimension: RoPE's rotation, pairing dimension i with i + head_dim/2. Notebook 03."""
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope_cos_sin(seq_len: int, head_dim: int, theta: float, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosines and sines of RoPE's angles ``position * theta ** (-2i / head_dim)``, each ``(seq_len, head_dim)``. Notebook 03."""
    inv_freq = rope_inverse_frequencies(head_dim, theta).to(device)  # (head_dim/2,), the formula of notebook 02
    angles = torch.arange(seq_len, dtype=torch.float32, device=device)[:, None] * inv_freq[None, :]  # (seq_len, head_dim/2)
    angles = torch.cat((angles, angles), dim=-1)  # (seq_len, head_dim): the same angle for i and i + head_dim/2
    return angles.cos(), angles.sin()


def head_by_hand(model, hidden_states: torch.Tensor, layer: int, head: int, *, use_rope: bool = True) -> torch.Tensor:
    """Attention weights of one head of a Llama-family model, recomputed from the layer's input. Notebook 03.

    ``hidden_states`` is the input of ``layer`` for one text, shape
    ``(seq_len, hidden_size)`` (``output_hidden_states=True`` gives it as
    ``hidden_states[layer][0]``). Returns ``(seq_len, seq_len)`` weights equal
    to ``output_attentions``' ``[layer][0, head]``. ``use_rope=False`` skips the
    rotation to show that the result then differs.
    """
    config = model.config
    num_layers, num_heads = config.num_hidden_layers, config.num_attention_heads
    check_layer_head(torch.empty(num_layers, num_heads, 0, 0), layer, head)
    block = model.model.layers[layer]
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // num_heads
    group = num_heads // config.num_key_value_heads  # query heads per key head (GQA)
    kv_head = head // group
    rope = getattr(config, "rope_parameters", None) or {"rope_theta": config.rope_theta}  # transformers 4.x
    if rope.get("rope_type", "default") != "default":
        raise NotImplementedError(bilingual(f"head_by_hand는 기본 RoPE만 다룹니다('{rope['rope_type']}'는 아닙니다).",
                                            f"head_by_hand handles plain RoPE only, not '{rope['rope_type']}'."))
    with torch.no_grad():
        x = block.input_layernorm(hidden_states)  # (seq_len, hidden_size)
        rows_q = slice(head * head_dim, (head + 1) * head_dim)
        rows_k = slice(kv_head * head_dim, (kv_head + 1) * head_dim)
        q = x @ block.self_attn.q_proj.weight[rows_q].T  # (seq_len, head_dim)
        k = x @ block.self_attn.k_proj.weight[rows_k].T  # (seq_len, head_dim)
        if use_rope:
            cos, sin = rope_cos_sin(x.shape[0], head_dim, rope["rope_theta"], device=x.device)
            cos, sin = cos.to(x.dtype), sin.to(x.dtype)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
        scores = q @ k.T / head_dim**0.5  # (seq_len, seq_len): query i against key j
        future = torch.triu(torch.ones_like(scores, dtype=torch.bool), diagonal=1)
        scores = scores.masked_fill(future, float("-inf"))
        return scores.softmax(dim=-1)
