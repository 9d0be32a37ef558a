"""The whole transformer block, computed by hand (introduced in notebook 04).

Notebook 03 opened one attention head. A decoder layer of a Llama-family
model such as SmolLM2 wraps attention in three more pieces, and adds each
sub-layer's result back onto its input (a pre-norm residual block):

    h = x + attention(rms_norm(x))      # positions exchange information
    y = h + mlp(rms_norm(h))            # every position is transformed on its own

The running sum ``x -> h -> y -> ...`` through all layers is the *residual
stream*. After the last layer a final RMSNorm and ``lm_head`` (in SmolLM2 the
embedding matrix itself: the weights are tied) turn the stream into logits over
the vocabulary, and a softmax into the next-token distribution of notebook 05.
Decoding every layer's stream the same way is the *logit lens* (nostalgebraist,
2020): it shows at which depth the model's answer appears.

This module writes each piece out so that a unit test can hold it equal to the
library's own layer: :func:`rms_norm`, :func:`mlp_by_hand` (the gated MLP,
``down_proj(silu(gate_proj(x)) * up_proj(x))``, Shazeer 2020), and
:func:`attention_by_hand`, which reuses :func:`llm_course.attention.head_by_hand`
(notebook 03) for the weights of every head and adds values and ``o_proj``.
:func:`decoder_layer_by_hand` chains them; :func:`layer_inputs` builds what the
library passes to a layer (rotary position embeddings and the causal mask).
For the three architecture families, :func:`tiny_encoder_decoder` builds a
small, randomly initialised T5 (structure only: it is untrained) and
:func:`record_calls` counts the forward calls of modules with hooks.

Shapes use the transformers vocabulary: ``seq_len``, ``hidden_size``,
``intermediate_size``, ``num_heads``, ``head_dim``, ``vocab_size``. A
``stream`` is one tensor ``(num_layers + 1, seq_len, hidden_size)``: row 0 is
the embeddings, row k the residual stream after k layers.
"""

from __future__ import annotations

import contextlib

import torch

from .attention import encode_text, head_by_hand
from .i18n import bilingual

# --------------------------------------------------------------------------
# Checking what a learner passes in
# --------------------------------------------------------------------------


def num_layers(model) -> int:
    """The number of decoder layers (``config.num_hidden_layers``). Notebook 04."""
    return int(model.config.num_hidden_layers)


def check_layer(model, layer) -> int:
    """Return ``layer`` if it names a decoder layer (0 to ``num_layers - 1``), else raise a bilingual ValueError. Notebook 04."""
    n = num_layers(model)
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < n:
        raise ValueError(bilingual(
            f"층 번호는 0부터 {n - 1}까지의 정수여야 합니다 (이 모델의 층은 {n}개). 받은 값: {layer!r}",
            f"layer must be an integer from 0 to {n - 1} (this model has {n} layers); got {layer!r}."))
    return layer


def encode_prompt(tokenizer, text, model):
    """Tokenize one prompt for ``model``; an empty prompt gets a bilingual message. Notebook 04.

    The length check against the context window is notebook 03's
    :func:`llm_course.attention.encode_text`.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(bilingual(
            f"프롬프트가 비어 있습니다 (받은 값: {text!r}). 단어를 하나 이상 넣으세요. 예: \"The capital of France is\"",
            f"The prompt is empty (got {text!r}): give at least one word, for example \"The capital of France is\"."))
    return encode_text(tokenizer, text, model)


# --------------------------------------------------------------------------
# Where the parameters live
# --------------------------------------------------------------------------

COMPONENTS = ("embeddings", "attention", "MLP", "norms")


def parameter_counts(model) -> dict[str, int]:
    """Parameters per component of a decoder: embeddings, attention, MLP, norms (and an untied lm_head). Notebook 04.

    ``model.named_parameters()`` lists a tied weight once, under its first
    name (``model.embed_tokens.weight``), so the embedding matrix that
    ``lm_head`` shares is counted once, as embeddings. A model whose
    ``lm_head`` has weights of its own gets a fifth entry, ``"lm_head"``.
    The counts add up to ``sum(p.numel() for p in model.parameters())``.
    """
    counts = dict.fromkeys(COMPONENTS, 0)
    for name, param in model.named_parameters():
        if "embed" in name:
            key = "embeddings"
        elif "self_attn" in name:
            key = "attention"
        elif ".mlp." in name:
            key = "MLP"
        elif "norm" in name:
            key = "norms"
        elif name.startswith("lm_head"):
            key = "lm_head"
        else:
            key = "other"
        counts[key] = counts.get(key, 0) + param.numel()
    return counts


def embeddings_are_tied(model) -> bool:
    """True when ``lm_head`` and the input embeddings are one tensor (same storage). Notebook 04."""
    head = model.get_output_embeddings().weight
    embed = model.get_input_embeddings().weight
    return head is embed or head.data_ptr() == embed.data_ptr()


# --------------------------------------------------------------------------
# The pieces of a layer, by hand
# --------------------------------------------------------------------------


def rms_norm(hidden_states: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    """RMSNorm (Zhang & Sennrich, 2019): divide each vector by its root mean square, then scale. Notebook 04.

    ``x / sqrt(mean(x**2) + eps) * weight`` over the last dimension: unlike
    LayerNorm it subtracts no mean and adds no bias. Equal to the library's
    ``LlamaRMSNorm`` (which computes in float32 whatever the input dtype).
    """
    x = hidden_states.float()
    rms = torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps)  # (..., 1): one number per position
    return weight * (x / rms).to(hidden_states.dtype)


def linear(x: torch.Tensor, layer) -> torch.Tensor:
    """``x @ W.T + b`` with an ``nn.Linear``'s weight (``(out_features, in_features)``) and bias. Notebook 04."""
    out = x @ layer.weight.T
    return out if layer.bias is None else out + layer.bias


def silu(x: torch.Tensor) -> torch.Tensor:
    """SiLU (also called swish): ``x * sigmoid(x)``, a smooth ReLU that lets small negatives through. Notebook 04."""
    return x * torch.sigmoid(x)


def _block(model, layer):
    check_layer(model, layer)
    return model.model.layers[layer]


def mlp_by_hand(model, x: torch.Tensor, layer: int) -> torch.Tensor:
    """The gated MLP of one layer, ``down_proj(silu(gate_proj(x)) * up_proj(x))``, written out. Notebook 04.

    ``x`` is the MLP's input (after ``post_attention_layernorm``), shape
    ``(..., hidden_size)``; the result has the same shape and equals
    ``model.model.layers[layer].mlp(x)``. Each position is computed on its
    own: the MLP never mixes positions.
    """
    mlp = _block(model, layer).mlp
    act = getattr(model.config, "hidden_act", "silu")
    if act != "silu":
        raise NotImplementedError(f"mlp_by_hand writes out SiLU only, not '{act}'.")
    with torch.no_grad():
        gate = linear(x, mlp.gate_proj)  # (..., intermediate_size): how much of each feature to let through
        up = linear(x, mlp.up_proj)  # (..., intermediate_size): the feature values themselves
        return linear(silu(gate) * up, mlp.down_proj)  # (..., hidden_size): back to the residual stream


def attention_by_hand(model, hidden_states: torch.Tensor, layer: int) -> torch.Tensor:
    """The output of one layer's self-attention (all heads, values and ``o_proj``), recomputed. Notebook 04.

    ``hidden_states`` is the layer's input for one text, ``(seq_len,
    hidden_size)``, before ``input_layernorm`` (as for
    :func:`llm_course.attention.head_by_hand`, which gives each head's
    weights). Each query head averages the values of its key/value head (GQA)
    with those weights; the heads are laid side by side and ``o_proj`` mixes
    them back into ``hidden_size``. Equal to the attention sub-layer's output.
    """
    block = _block(model, layer)
    config = model.config
    num_heads, num_kv = config.num_attention_heads, config.num_key_value_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // num_heads
    seq_len = hidden_states.shape[0]
    with torch.no_grad():
        weights = torch.stack([head_by_hand(model, hidden_states, layer, h) for h in range(num_heads)])
        # weights: (num_heads, seq_len, seq_len), notebook 03's computation once per head
        x = rms_norm(hidden_states, block.input_layernorm.weight, block.input_layernorm.variance_epsilon)
        values = linear(x, block.self_attn.v_proj).view(seq_len, num_kv, head_dim).transpose(0, 1)
        # values: (num_kv, seq_len, head_dim); each key/value head serves num_heads // num_kv query heads
        values = values.repeat_interleave(num_heads // num_kv, dim=0)  # (num_heads, seq_len, head_dim)
        per_head = weights @ values  # (num_heads, seq_len, head_dim): a weighted average per query
        joined = per_head.transpose(0, 1).reshape(seq_len, num_heads * head_dim)  # heads side by side
        return linear(joined, block.self_attn.o_proj)  # (seq_len, hidden_size)


def decoder_layer_by_hand(model, hidden_states: torch.Tensor, layer: int) -> torch.Tensor:
    """One whole decoder layer: norm -> attention -> add -> norm -> MLP -> add. Notebook 04.

    ``hidden_states`` is the layer's input for one text, ``(seq_len,
    hidden_size)``; the result is its output, equal to
    ``model.model.layers[layer]`` run with :func:`layer_inputs`.
    """
    block = _block(model, layer)
    with torch.no_grad():
        h = hidden_states + attention_by_hand(model, hidden_states, layer)  # first residual add
        normed = rms_norm(h, block.post_attention_layernorm.weight, block.post_attention_layernorm.variance_epsilon)
        return h + mlp_by_hand(model, normed, layer)  # second residual add


def layer_inputs(model, hidden_states: torch.Tensor) -> dict:
    """What the library passes to every decoder layer besides the hidden states. Notebook 04.

    ``hidden_states`` is ``(1, seq_len, hidden_size)`` for one text without
    padding. Returns ``position_ids`` (0 to seq_len - 1),
    ``position_embeddings`` (RoPE's ``(cos, sin)`` from the model's own
    ``rotary_emb``) and ``attention_mask`` as ``create_causal_mask`` builds it:
    a ``(1, 1, seq_len, seq_len)`` tensor of 0 and the most negative float for
    eager attention, ``None`` for sdpa, whose kernel applies the causal mask itself.
    """
    import inspect

    from transformers.masking_utils import create_causal_mask

    seq_len = hidden_states.shape[1]
    position_ids = torch.arange(seq_len, device=hidden_states.device)[None]  # (1, seq_len)
    with torch.no_grad():
        position_embeddings = model.model.rotary_emb(hidden_states, position_ids=position_ids)
    mask_args = {"config": model.config, "attention_mask": None, "past_key_values": None, "position_ids": position_ids}
    params = inspect.signature(create_causal_mask).parameters
    # Older releases (4.5x, early 5.x) call the embeddings ``input_embeds`` and want ``cache_position``.
    mask_args["inputs_embeds" if "inputs_embeds" in params else "input_embeds"] = hidden_states
    if "cache_position" in params:
        mask_args["cache_position"] = position_ids[0]
    mask = create_causal_mask(**mask_args)
    return {"attention_mask": mask, "position_ids": position_ids, "position_embeddings": position_embeddings}


def run_layer(model, hidden_states: torch.Tensor, layer: int) -> torch.Tensor:
    """``model.model.layers[layer]`` applied to ``(1, seq_len, hidden_size)`` hidden states, as the model does. Notebook 04."""
    block = _block(model, layer)
    with torch.no_grad():
        out = block(hidden_states, **layer_inputs(model, hidden_states))
    return out[0] if isinstance(out, tuple) else out  # transformers 4.x layers returned a tuple


# --------------------------------------------------------------------------
# The residual stream, the next token, and the logit lens
# --------------------------------------------------------------------------


def residual_stream(model, encoded) -> tuple[object, torch.Tensor]:
    """Run the model once; return ``(output, stream)`` with the residual stream before the final norm. Notebook 04.

    ``stream`` is ``(num_layers + 1, seq_len, hidden_size)``: the embeddings,
    then every layer's output, caught with forward hooks. The library's
    ``output_hidden_states`` gives the same except the last entry, which is
    *after* the final norm (``last_hidden_state``); the logit lens needs the
    stream before it.
    """
    caught = []

    def keep(module, args, output):
        caught.append((output[0] if isinstance(output, tuple) else output).detach())

    modules = [model.get_input_embeddings(), *model.model.layers]
    handles = [m.register_forward_hook(keep) for m in modules]
    try:
        with torch.no_grad():
            output = model(**encoded)
    finally:
        for handle in handles:
            handle.remove()
    stream = torch.stack([c[0] for c in caught])  # (num_layers + 1, seq_len, hidden_size): batch of one dropped
    return output, stream


def unembed(model, residual: torch.Tensor) -> torch.Tensor:
    """Logits from residual-stream vectors: the final RMSNorm, then ``lm_head``. Notebook 04.

    ``residual`` is ``(..., hidden_size)``; the result ``(..., vocab_size)``.
    Applied to the last layer's output this is exactly the model's logits.
    """
    norm = model.model.norm
    with torch.no_grad():
        return linear(rms_norm(residual, norm.weight, norm.variance_epsilon), model.get_output_embeddings())


def logit_lens(model, stream: torch.Tensor, position: int = -1) -> torch.Tensor:
    """Next-token probabilities read from every layer's residual stream at one position. Notebook 04.

    ``stream`` is :func:`residual_stream`'s ``(num_layers + 1, seq_len,
    hidden_size)``. Returns ``(num_layers + 1, vocab_size)``: row k is what the
    final norm and ``lm_head`` make of the stream after k layers. The last row
    is the model's own next-token distribution.
    """
    return unembed(model, stream[:, position]).softmax(dim=-1)


def token_rank(probs: torch.Tensor, token_id: int) -> torch.Tensor:
    """Place of ``token_id`` in each row of ``(..., vocab_size)`` probabilities: 1 is the top token. Notebook 04.

    The place is one more than the number of tokens with a higher probability.
    """
    target = probs[..., token_id : token_id + 1]  # (..., 1)
    return (probs > target).sum(dim=-1) + 1


def settled_layer(top_ids) -> int:
    """The first row from which the top token stays the final one to the end. Notebook 04.

    ``top_ids`` is the top token per row of :func:`logit_lens` (``probs.argmax(-1)``).
    With rows counted as layers passed (0 = embeddings), the answer is the number
    of layers after which the model's final choice is already on top for good.
    """
    ids = top_ids.tolist() if hasattr(top_ids, "tolist") else list(top_ids)
    if not ids:
        raise ValueError(bilingual("최상위 토큰 목록이 비어 있습니다.", "The list of top tokens is empty."))
    k = len(ids) - 1
    while k > 0 and ids[k - 1] == ids[-1]:
        k -= 1
    return k


def common_prefix_length(ids_a, ids_b) -> int:
    """How many leading token ids two sequences share (notebook 04: which positions a later change may reach)."""
    n = 0
    for a, b in zip(ids_a, ids_b):
        if a != b:
            break
        n += 1
    return n


# --------------------------------------------------------------------------
# Encoder-decoder: a tiny, untrained T5 to see the structure
# --------------------------------------------------------------------------


def tiny_encoder_decoder(vocab_size: int, *, pad_token_id: int, eos_token_id: int, d_model: int = 32,
                         num_layers: int = 2, num_heads: int = 4, seed: int = 0):
    """A small randomly initialised T5 (``T5ForConditionalGeneration``): structure only, untrained. Notebook 04.

    With the course's 49,152-token vocabulary and ``d_model=32`` it has about
    1.6 M parameters (6.5 MB); almost all of them are the shared embedding
    matrix. Eager attention, so ``output_attentions=True`` returns the weights,
    cross-attention included. ``seed`` makes the random weights the same every run.
    """
    from transformers import AutoModelForSeq2SeqLM, T5Config

    config = T5Config(vocab_size=vocab_size, d_model=d_model, d_kv=d_model // num_heads, d_ff=2 * d_model,
                      num_layers=num_layers, num_decoder_layers=num_layers, num_heads=num_heads,
                      pad_token_id=pad_token_id, eos_token_id=eos_token_id, decoder_start_token_id=pad_token_id)
    torch.manual_seed(seed)
    return AutoModelForSeq2SeqLM.from_config(config, attn_implementation="eager").eval()


def _first_tensor(args, kwargs):
    for key in ("input_ids", "inputs_embeds", "hidden_states"):
        if isinstance(kwargs.get(key), torch.Tensor):
            return kwargs[key]
    return next((a for a in args if isinstance(a, torch.Tensor)), None)


@contextlib.contextmanager
def record_calls(modules: dict):
    """Count forward calls of named modules with hooks; yields ``{name: [input shape per call]}``. Notebook 04.

    The shape recorded is that of the call's ``input_ids`` (or, failing that,
    its first tensor argument), so it shows how many tokens each call saw.
    The hooks are removed on leaving the ``with`` block.
    """
    calls = {name: [] for name in modules}
    handles = []
    for name, module in modules.items():
        def pre_hook(mod, args, kwargs, name=name):
            tensor = _first_tensor(args, kwargs)
            calls[name].append(tuple(tensor.shape) if tensor is not None else None)

        handles.append(module.register_forward_pre_hook(pre_hook, with_kwargs=True))
    try:
        yield calls
    finally:
        for handle in handles:
            handle.remove()


def describe_calls(calls: dict) -> str:
    """One line per module: how many forward calls, and the input shapes they saw. Notebook 04."""
    from .i18n import ko_en

    return "\n".join(ko_en(f"{name}: 호출 {len(shapes)}번, 입력 모양 {shapes}", f"{name}: {len(shapes)} call(s), input shapes {shapes}")
                     for name, shapes in calls.items())
