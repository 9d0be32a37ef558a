"""Memory, speed and quantization, measured on the learner's own machine (introduced in notebook 08).

A model's weights are numbers, and every number costs bytes: 4 in float32, 2
in bfloat16, 1 in int8, half a byte in 4-bit formats plus the scales that tell
how to read them back. This module turns that into arithmetic a learner can
check against the real thing:

* **Bytes per parameter** (:func:`bytes_per_parameter`, :func:`weights_memory`)
  and the footprint a loaded model reports (:func:`predicted_footprint`, checked
  against ``model.get_memory_footprint()`` for each precision); sizes written
  in Korean units (:func:`korean_units`: 8B = 80억) and read from model names
  (:func:`size_from_name`: "8x7B" is *not* 8 × 7 billion parameters).
* **Counting parameters from a config alone**: :func:`build_on_meta` builds a
  model on PyTorch's ``meta`` device (shapes, no storage), so a Llama-3-8B or a
  Mixtral-8x7B costs no memory; :func:`moe_parameters` splits a mixture of
  experts into total and active-per-token parameters.
* **The KV cache** (:func:`kv_cache_bytes`): layers × 2 × key/value heads ×
  head dim × tokens × bytes, checked against ``past_key_values``
  (:func:`cache_tensor_bytes`).
* **Speed is memory bandwidth**: decoding one token reads every weight once,
  so tokens per second cannot beat bandwidth ÷ bytes read per token
  (:func:`measure_bandwidth`, :func:`predicted_tokens_per_second`).
* **Timing and routing**: :func:`timed_generate` times ``generate`` step by
  step; :func:`compare_speeds` turns measured speeds into sentences, so no
  lesson states "faster" or "slower" that the learner's own run did not
  measure; :func:`selected_experts` reads which experts a MoE's router picked.

Quantization itself (by hand and in bitsandbytes) is :mod:`llm_course.quantization`'s,
perplexity on a fixed text :mod:`llm_course.perplexity`'s.

Why one module of about 700 lines: its sections are one chain of byte counting
that notebook 08 walks in order (bytes per parameter → a loaded model's
footprint → the KV cache → bytes read per token → tokens per second), and each
section's numbers are checked against the previous one's.

Sizes are in decimal units (1 MB = 10⁶ bytes, 1 GB = 10⁹ bytes), as
``get_memory_footprint`` users and GPU vendors write them. Bad input raises a
``ValueError`` in Korean and English that names the valid range.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from dataclasses import dataclass

import torch

from .device import synchronize
from .i18n import bilingual, josa, say
from .validation import named, positive_int

# --------------------------------------------------------------------------
# 1. Bytes per parameter
# --------------------------------------------------------------------------

# Storage of one weight, before any scales. 4-bit formats pack two weights per byte.
DTYPE_BYTES = {
    "float32": 4.0,
    "bfloat16": 2.0,
    "float16": 2.0,
    "int8": 1.0,
    "nf4": 0.5,
    "fp4": 0.5,
}
DTYPE_ALIASES = {
    "fp32": "float32", "float": "float32", "torch.float32": "float32",
    "bf16": "bfloat16", "torch.bfloat16": "bfloat16",
    "fp16": "float16", "half": "float16", "torch.float16": "float16",
    "8bit": "int8", "torch.int8": "int8",
    "4bit": "nf4",  # nf4 and fp4 take the same bytes
}
FOUR_BIT = ("nf4", "fp4")
BNB_BLOCKSIZE = 64  # bitsandbytes' default block size for 4-bit weights
DOUBLE_QUANT_BLOCKSIZE = 256  # double quantization groups 256 block scales into one


def dtype_name(dtype) -> str:
    """The canonical name of a dtype (``"bf16"`` → ``"bfloat16"``, ``torch.float16`` → ``"float16"``); notebook 08.

    An unknown name raises a ValueError that lists the known ones.
    """
    if isinstance(dtype, torch.dtype):
        dtype = str(dtype)
    key = str(dtype).strip().lower() if isinstance(dtype, str) else None
    if key in DTYPE_BYTES:
        return key
    if key in DTYPE_ALIASES:
        return DTYPE_ALIASES[key]
    known = ", ".join(
        name + (f" ({', '.join(a for a, c in DTYPE_ALIASES.items() if c == name and not a.startswith('torch.'))})"
                if any(c == name for c in DTYPE_ALIASES.values()) else "")
        for name in DTYPE_BYTES)
    raise ValueError(bilingual(
        f"알 수 없는 dtype입니다: {dtype!r}. 쓸 수 있는 이름: {known}.",
        f"Unknown dtype {dtype!r}. Known names: {known}."))


def bytes_per_parameter(dtype, *, blocksize: int = BNB_BLOCKSIZE, double_quant: bool = False,
                        include_scales: bool = True) -> float:
    """Bytes one weight costs in ``dtype`` (notebook 08).

    For the 4-bit formats (``nf4``, ``fp4``) each block of ``blocksize``
    weights also stores one float32 scale (its absmax): 0.5 + 4/64 = 0.5625
    bytes. Double quantization stores those scales in 8 bits, with one float32
    scale per 256 of them: 0.5 + 1/64 + 4/(64·256). ``include_scales=False``
    gives the bare 0.5, which is what ``get_memory_footprint()`` counts (the
    scales live outside the parameters, in each weight's ``quant_state``).
    int8 also keeps one float32 scale per output row, left out here because it
    depends on the row length (4 bytes per 576 weights in SmolLM2: 0.7 %).
    """
    name = dtype_name(dtype)
    value = DTYPE_BYTES[name]
    if name in FOUR_BIT and include_scales:
        blocksize = positive_int(blocksize, "blocksize", "블록 크기")
        if double_quant:
            value += 1 / blocksize + 4 / (blocksize * DOUBLE_QUANT_BLOCKSIZE)
        else:
            value += 4 / blocksize
    return value


def _check_param_count(n_params) -> float:
    if isinstance(n_params, bool) or not isinstance(n_params, (int, float)) or not math.isfinite(n_params) \
            or n_params <= 0:
        raise ValueError(bilingual(
            f"파라미터 수는 0보다 큰 수여야 합니다 (받은 값: {n_params!r}). 예: 8_030_261_248 또는 8e9.",
            f"The parameter count must be a number > 0 (got {n_params!r}); for example 8_030_261_248 or 8e9."))
    return float(n_params)




def weights_memory(n_params, dtype, **options) -> float:
    """Bytes the weights of an ``n_params`` model take in ``dtype`` (notebook 08).

    ``options`` go to :func:`bytes_per_parameter` (``blocksize``,
    ``double_quant``, ``include_scales``). Weights only: the KV cache and the
    activations come on top.
    """
    return _check_param_count(n_params) * bytes_per_parameter(dtype, **options)


def format_bytes(n_bytes: float) -> str:
    """``538060288`` → ``"538.1 MB"``, in decimal units (notebook 08)."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n_bytes) >= size:
            return f"{n_bytes / size:.1f} {unit}"
    return f"{n_bytes:.0f} B"


_KOREAN_UNITS = ((10**12, "조"), (10**8, "억"), (10**4, "만"))


def korean_units(n, *, keep: int = 2) -> str:
    """A count written the Korean way, in 만 (10⁴), 억 (10⁸) and 조 (10¹²) (notebook 08).

    English counts in thousands (8 billion = 8,000 million); Korean counts in
    ten-thousands, so 8B is 80억 and 47B is 470억. ``keep`` is how many units to
    write, the last one rounded: ``korean_units(8_030_261_248)`` → ``"80억 3,026만"``,
    ``keep=1`` → ``"80억"``; ``korean_units(12_879_921_152, keep=1)`` → ``"129억"``.
    """
    n = int(round(_check_param_count(n)))
    keep = positive_int(keep, "keep", "단위 개수")
    units = [(size, unit) for size, unit in _KOREAN_UNITS if n >= size] + [(1, "")]
    step = units[min(keep, len(units)) - 1][0]
    n = (n + step // 2) // step * step  # round to the last unit written
    parts = []
    for size, unit in _KOREAN_UNITS + ((1, ""),):
        if n >= size:
            value, n = divmod(n, size)
            parts.append(f"{value:,}{unit}")
    return " ".join(parts)


@dataclass(frozen=True)
class NameSize:
    """What a model's name says about its size: see :func:`size_from_name`."""

    name: str
    total_in_name: float | None  # the parameter count the name suggests (8x7B -> 56e9, naively)
    active_in_name: float | None  # "A35B", or the smaller of "1B-7B": the parameters used per token
    experts: int | None  # "8x7B": the number of experts


def size_from_name(name: str) -> NameSize:
    """Read the size a model's name suggests (notebook 08).

    ``"8B"`` and ``"135M"`` give a total; ``"8x7B"`` gives experts × size;
    ``"141B-A35B"`` a total and the active parameters ("A" for active);
    ``"1B-7B"`` (OLMoE's style) active and total. The name is only a label:
    "8x7B" suggests 8 × 7 = 56 billion, but the experts share the attention
    layers and the embeddings, so Mixtral-8x7B has 46.7 billion. Count the
    real number from the config with :func:`build_on_meta`.
    """
    import re

    text = str(name).upper()
    scale = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}
    moe = re.search(r"(\d+)X(\d+(?:\.\d+)?)([KMBT])(?![A-Z])", text)
    if moe:
        experts = int(moe.group(1))
        return NameSize(name, experts * float(moe.group(2)) * scale[moe.group(3)], None, experts)
    found = re.findall(r"(?<![A-Z0-9.])(A?)(\d+(?:\.\d+)?)([KMBT])(?![A-Z0-9])", text)
    active = [float(v) * scale[u] for a, v, u in found if a]
    plain = sorted(float(v) * scale[u] for a, v, u in found if not a)
    if not found:
        raise ValueError(bilingual(
            f"이름 {name!r}에서 크기를 찾지 못했습니다. 크기는 '8B', '8x7B', '141B-A35B'처럼 씁니다.",
            f"No size found in the name {name!r}; sizes look like '8B', '8x7B', '141B-A35B'."))
    if len(plain) >= 2 and not active:  # "1B-7B": active, then total
        return NameSize(name, plain[-1], plain[0], None)
    return NameSize(name, plain[-1] if plain else None, active[0] if active else None, None)


# --------------------------------------------------------------------------
# 2. Counting parameters from a config, without weights
# --------------------------------------------------------------------------


def llama3_8b_config():
    """A ``LlamaConfig`` with Llama-3-8B's published shape (notebook 08); no weights come with it."""
    from transformers import LlamaConfig

    return LlamaConfig(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                       num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=8192,
                       rope_theta=500000.0, tie_word_embeddings=False)


def mixtral_8x7b_config():
    """A ``MixtralConfig`` with Mixtral-8x7B's published shape: 8 experts, 2 per token (notebook 08)."""
    from transformers import MixtralConfig

    return MixtralConfig(vocab_size=32000, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                         num_attention_heads=32, num_key_value_heads=8, num_local_experts=8,
                         num_experts_per_tok=2, max_position_embeddings=32768, tie_word_embeddings=False)


def mixtral_8x22b_config():
    """A ``MixtralConfig`` with Mixtral-8x22B's published shape (notebook 08): named "141B-A39B" by some."""
    from transformers import MixtralConfig

    return MixtralConfig(vocab_size=32768, hidden_size=6144, intermediate_size=16384, num_hidden_layers=56,
                         num_attention_heads=48, num_key_value_heads=8, num_local_experts=8,
                         num_experts_per_tok=2, max_position_embeddings=65536, tie_word_embeddings=False)


def olmoe_1b_7b_config():
    """An ``OlmoeConfig`` with OLMoE-1B-7B's published shape: 64 small experts, 8 per token (notebook 08)."""
    from transformers import OlmoeConfig

    return OlmoeConfig(vocab_size=50304, hidden_size=2048, intermediate_size=1024, num_hidden_layers=16,
                       num_attention_heads=16, num_key_value_heads=16, num_experts=64, num_experts_per_tok=8,
                       max_position_embeddings=4096, tie_word_embeddings=False)


def build_on_meta(config):
    """The causal LM of ``config`` built on PyTorch's ``meta`` device: every shape, no storage (notebook 08).

    A meta tensor knows its shape and dtype but holds no numbers, so a
    47-billion-parameter model builds in a second and costs no memory; its
    parameters can be counted but not run.
    """
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        return AutoModelForCausalLM.from_config(config)


def count_parameters(model) -> int:
    """The number of parameters of ``model``, counting a packed 4-bit weight as two per byte (notebook 08).

    ``sum(p.numel() ...)`` undercounts a 4-bit model: bitsandbytes stores two
    weights in each uint8 element. transformers' ``model.num_parameters()``
    corrects for that; so does this function, for any ``nn.Module``.
    """
    total = 0
    for p in model.parameters():
        total += p.numel() * (2 if type(p).__name__ == "Params4bit" else 1)
    return total


def parameters_by_dtype(model) -> dict[str, int]:
    """Stored elements per dtype, as ``model.parameters()`` holds them (notebook 08).

    A 4-bit weight shows up as ``uint8`` with half as many elements as weights.
    """
    counts: Counter = Counter()
    for p in model.parameters():
        counts[str(p.dtype).replace("torch.", "")] += p.numel()
    return dict(counts.most_common())


def _num_experts(config) -> tuple[int, int]:
    experts = getattr(config, "num_local_experts", None) or getattr(config, "num_experts", None)
    top_k = getattr(config, "num_experts_per_tok", None)
    if not experts or not top_k:
        raise ValueError(bilingual(
            "이 config는 전문가 혼합(MoE)이 아닙니다: num_local_experts/num_experts와 num_experts_per_tok가 없습니다.",
            "This config is not a mixture of experts: it has no num_local_experts/num_experts and "
            "num_experts_per_tok."))
    return int(experts), int(top_k)


@dataclass(frozen=True)
class MoECount:
    """Total and per-token parameters of a mixture of experts: see :func:`moe_parameters`."""

    total: int
    expert: int  # parameters inside the routed experts, all of them
    num_experts: int
    top_k: int

    @property
    def active(self) -> int:
        """Parameters one token uses: everything outside the experts, plus ``top_k`` of them."""
        return self.total - self.expert + self.expert * self.top_k // self.num_experts


def moe_parameters(model) -> MoECount:
    """Split a mixture-of-experts model's parameters into total and active per token (notebook 08).

    The routed experts are the parameters under ``.experts.`` (transformers
    stores each layer's experts as one tensor with a leading dimension of
    ``num_experts``); a token goes through ``num_experts_per_tok`` of them.
    Attention, the router, shared experts and the embeddings serve every token.
    """
    experts, top_k = _num_experts(model.config)
    total = expert = 0
    for name, p in model.named_parameters():
        total += p.numel()
        if ".experts." in f".{name}":
            expert += p.numel()
    return MoECount(total=total, expert=expert, num_experts=experts, top_k=top_k)


# --------------------------------------------------------------------------
# 3. The footprint of a loaded model
# --------------------------------------------------------------------------

PRECISIONS = ("float32", "bfloat16", "int8", "nf4", "fp4")


def _quantized_linear_weights(model, skip=("lm_head",)) -> int:
    """Elements of the ``nn.Linear`` weights bitsandbytes replaces (all but ``skip``)."""
    n = 0
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and name.split(".")[-1] not in skip:
            n += module.weight.numel() * (2 if type(module.weight).__name__ == "Params4bit" else 1)
    return n


def predicted_footprint(model, precision, *, skip=("lm_head",)) -> float:
    """What ``get_memory_footprint()`` will report for ``model`` loaded in ``precision`` (notebook 08).

    ``model`` can be the float32 model (only its shapes are used). bfloat16 and
    float16 halve every parameter; int8 and 4-bit replace the ``nn.Linear``
    weights (not ``lm_head``, which bitsandbytes keeps) with 1 or 0.5 bytes each
    and keep everything else (embeddings, norms) in float32. Buffers (RoPE's
    frequencies) stay as they are. The 4-bit scales are not counted, exactly
    as ``get_memory_footprint()`` does not count them.
    """
    name = dtype_name(precision)
    n_params = count_parameters(model)
    buffers = sum(b.numel() * b.element_size() for b in model.buffers())
    if name in ("float32", "bfloat16", "float16"):
        return n_params * DTYPE_BYTES[name] + buffers
    quantized = _quantized_linear_weights(model, skip)
    rest = n_params - quantized
    return quantized * DTYPE_BYTES[name] + rest * DTYPE_BYTES["float32"] + buffers


def tensor_bytes(t) -> int:
    return 0 if t is None else t.numel() * t.element_size()


def row_scales(module):
    """An int8 layer's row scales: on the weight when loaded, on the layer's state after the first forward."""
    weight = getattr(module, "weight", None)
    scb = getattr(weight, "SCB", None)
    return scb if scb is not None else getattr(getattr(module, "state", None), "SCB", None)


def scale_bytes(module) -> int:
    """Bytes of the scales one bitsandbytes layer keeps outside its parameters (0 for any other layer)."""
    weight = getattr(module, "weight", None)
    kind = type(weight).__name__
    if kind == "Int8Params":
        return tensor_bytes(row_scales(module))
    state = getattr(weight, "quant_state", None)
    if kind == "Params4bit" and state is not None:
        total = tensor_bytes(state.absmax)
        if getattr(state, "nested", False) and getattr(state, "state2", None) is not None:
            total += tensor_bytes(state.state2.absmax)
            total += 4  # the float32 offset added back to the de-quantized scales
        return total
    return 0


def quantization_state_bytes(model) -> int:
    """Bytes of the scales bitsandbytes keeps outside the parameters (notebook 08).

    int8 weights (``Int8Params``) carry one float32 scale per row (``SCB``);
    4-bit weights (``Params4bit``) a ``quant_state`` with one absmax per block
    (float32, or uint8 plus a second-level state under double quantization).
    ``get_memory_footprint()`` counts none of these.

    Measure before the first forward pass to get what was loaded: on a CPU with
    AVX-512-BF16, that pass repacks every 4-bit weight for the CPU kernel and
    stores its scales in bfloat16, undoing double quantization
    (:func:`stored_layout` shows the change).
    """
    return sum(scale_bytes(module) for module in model.modules())


# --------------------------------------------------------------------------
# 3b. What bitsandbytes does on this machine
# --------------------------------------------------------------------------

# bitsandbytes logs this once, at import, on a CPU with AVX-512-BF16 when the optional `kernels`
# package is missing: it looked for a 4-bit kernel on the Hub (kernels-community) and falls back
# to the kernel built into its own library, which computes the same thing.
_HUB_KERNEL_NOTICE = "Failed to load CPU gemm_4bit_forward from kernels-community"
_BNB_CPU_LOGGER = "bitsandbytes.backends.cpu.ops"


class _DropHubKernelNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return _HUB_KERNEL_NOTICE not in record.getMessage()


def quiet_hub_kernel_notice() -> None:
    """Drop bitsandbytes' "Failed to load ... from kernels-community" line at its logger (idempotent).

    Must run before bitsandbytes is imported: the line is logged by the import itself.
    """
    logger = logging.getLogger(_BNB_CPU_LOGGER)
    if not any(isinstance(f, _DropHubKernelNotice) for f in logger.filters):
        logger.addFilter(_DropHubKernelNotice())


def quiet_known_notices() -> None:
    """Keep two known, harmless library notices out of notebook 08's outputs, each at its source.

    * bitsandbytes, on a CPU with AVX-512-BF16, logs at import that it could not load
      a 4-bit kernel from the Hub's ``kernels-community`` (that needs the optional
      ``kernels`` package, which downloads compiled code when first used; the course
      stays offline and does not install it). It then uses the kernel built into its
      own library. :func:`bitsandbytes_path` reports which one it uses.
    * transformers before 5.18 (Colab had 5.15) warns in lesson cells although nothing
      is wrong (``Passing generation_config together with...``, ``Both max_new_tokens
      and max_length...``, ``Ignoring clean_up_tokenization_spaces...``): the same
      filter :mod:`llm_course.models` applies for its own loaders, which notebook 08
      bypasses to show ``from_pretrained`` itself.
    """
    from .models.load import _quiet_old_release_noise

    quiet_hub_kernel_notice()
    _quiet_old_release_noise()


# --------------------------------------------------------------------------
# 4. The KV cache
# --------------------------------------------------------------------------


def _config_value(config, *names):
    for name in names:
        value = getattr(config, name, None)
        if value:
            return value
    return None


def kv_cache_bytes(config, seq_len, *, batch_size: int = 1, dtype="float32") -> float:
    """Bytes of the KV cache for ``seq_len`` tokens: layers × 2 × kv heads × head dim × tokens × bytes (notebook 08).

    Every layer keeps a key and a value vector per key/value head for every
    token seen so far. Grouped-query attention shares one key/value head
    among several query heads, which is why ``num_key_value_heads`` (not
    ``num_attention_heads``) is in the formula.
    """
    if isinstance(seq_len, bool) or not isinstance(seq_len, int) or seq_len < 1:
        raise ValueError(bilingual(
            f"문맥 길이(seq_len)는 1 이상의 정수(토큰 수)여야 합니다 (받은 값: {seq_len!r}). 예: 1000, 8192.",
            f"The context length (seq_len) must be a whole number of tokens >= 1 (got {seq_len!r}); "
            "for example 1000 or 8192."))
    batch_size = positive_int(batch_size, "batch_size", "배치 크기")
    layers = _config_value(config, "num_hidden_layers", "n_layer")
    heads = _config_value(config, "num_attention_heads", "n_head")
    kv_heads = _config_value(config, "num_key_value_heads") or heads
    head_dim = _config_value(config, "head_dim") or config.hidden_size // heads
    bytes_each = bytes_per_parameter(dtype, include_scales=False)
    return layers * 2 * kv_heads * head_dim * seq_len * batch_size * bytes_each


def cache_tensor_bytes(past_key_values) -> int:
    """Bytes held by the key and value tensors of a real ``past_key_values`` (notebook 08).

    Works with transformers' ``DynamicCache`` (``.layers[i].keys/.values``) and
    with the older tuple of ``(key, value)`` pairs.
    """
    layers = getattr(past_key_values, "layers", None)
    pairs = [(layer.keys, layer.values) for layer in layers] if layers is not None else list(past_key_values)
    return sum(t.numel() * t.element_size() for pair in pairs for t in pair[:2] if t is not None)


# --------------------------------------------------------------------------
# 5. Speed is memory bandwidth
# --------------------------------------------------------------------------

# The hardware classes of the transformers chat guide, as memory bandwidth ranges in bytes per second.
HARDWARE_BANDWIDTH = {
    "consumer CPU": (20e9, 100e9),
    "workstation CPU / consumer GPU": (200e9, 900e9),
    "A100 / H100": (2e12, 3e12),
}


def measure_bandwidth(size_mb: int = 256, repeats: int = 5, device="cpu") -> float:
    """Memory read bandwidth in bytes per second, measured with torch (notebook 08).

    Sums a float32 tensor of ``size_mb`` megabytes (far larger than any cache)
    ``repeats`` times and keeps the fastest: a sum reads every byte once and
    does almost no arithmetic, like decoding reads every weight once. It uses
    the threads torch uses (``torch.get_num_threads()``), which is the
    bandwidth the model's own decoding can draw. On a GPU (CUDA or MPS) the
    timer waits for the device to finish (:func:`llm_course.device.synchronize`).
    """
    size_mb = positive_int(size_mb, "size_mb", "크기")
    x = torch.ones(size_mb * 1_000_000 // 4, dtype=torch.float32, device=device)
    x.sum()
    synchronize(device)
    best = math.inf
    for _ in range(positive_int(repeats, "repeats", "반복 횟수")):
        start = time.perf_counter()
        x.sum()
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return x.numel() * x.element_size() / best


def decode_bytes_per_token(model) -> float:
    """Bytes of weights one decoding step reads: all of them, except an untied input embedding (notebook 08).

    Every linear layer and the output layer ``lm_head`` multiply the new
    token's vector by their whole weight matrix. The input embedding is a
    table lookup: one row per token, unless it is the same matrix as
    ``lm_head`` (tied), which reads it all anyway.
    """
    total = model.get_memory_footprint()
    embedding = model.get_input_embeddings().weight
    output = model.get_output_embeddings()
    tied = output is not None and output.weight is embedding
    if not tied:
        total -= embedding.numel() * embedding.element_size()
    return float(total)


def predicted_tokens_per_second(bandwidth, bytes_per_token) -> float:
    """The bandwidth ceiling of greedy decoding: bandwidth ÷ bytes read per token (notebook 08).

    ``bandwidth`` in bytes per second (for example 20e9 for 20 GB/s);
    ``bytes_per_token`` the weights read per token (:func:`decode_bytes_per_token`,
    or :func:`weights_memory` for a model you do not have).
    """
    for value, name, name_ko in ((bandwidth, "bandwidth", "대역폭"), (bytes_per_token, "bytes_per_token", "토큰당 바이트")):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ValueError(bilingual(
                f"{named(name_ko, name, '은/는')} 0보다 큰 수(바이트/초 또는 바이트)여야 합니다 (받은 값: {value!r}). "
                "예: 20 GB/s는 20e9.",
                f"{name} must be a number > 0 (bytes per second, or bytes); got {value!r}. "
                "For example 20 GB/s is 20e9."))
    return bandwidth / bytes_per_token


SPEED_UNITS = {
    # unit: (Korean "value against reference", English the same, larger is faster)
    "tok/s": ("초당 {:.1f}토큰 대 {:.1f}토큰", "{:.1f} against {:.1f} tokens/s", True),
    "s": ("{:.1f}초 대 {:.1f}초", "{:.1f} s against {:.1f} s", False),
}


def compare_speeds(measured: dict, *, reference: str = "float32", unit: str = "tok/s",
                   task: tuple[str, str] = ("디코딩", "decoding"), same_within: float = 0.1) -> str:
    """Sentences that say what was faster or slower than ``reference`` in this run, in Korean and English (notebook 08).

    ``measured`` maps a name (``"int8"``) to a speed in tokens per second
    (``unit="tok/s"``) or to a time in seconds (``unit="s"``, where less is
    faster). Each other entry gets one sentence with both numbers and the
    speed ratio; within ``same_within`` (10 %) of the reference it reads "about
    the same". Lessons print these rather than state in their prose which
    precision is faster, because that depends on the learner's hardware.
    """
    if unit not in SPEED_UNITS:
        raise ValueError(bilingual(f"단위는 {' 또는 '.join(map(repr, SPEED_UNITS))}입니다 (받은 값: {unit!r}).",
                                   f"unit must be {' or '.join(map(repr, SPEED_UNITS))} (got {unit!r})."))
    if reference not in measured:
        raise ValueError(bilingual(f"기준 {josa(repr(reference), '이/가')} 측정값에 없습니다. 있는 이름: {', '.join(measured)}.",
                                   f"The reference {reference!r} is not among the measurements: {', '.join(measured)}."))
    for name, value in measured.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise ValueError(bilingual(f"{name}의 측정값은 0보다 큰 수여야 합니다 (받은 값: {value!r}).",
                                       f"The measurement of {name} must be a number > 0 (got {value!r})."))
    fmt_ko, fmt_en, larger_is_faster = SPEED_UNITS[unit]
    ref = measured[reference]
    ko, en = [f"이 컴퓨터에서 잰 {task[0]} 속도:"], [f"{task[1][:1].upper() + task[1][1:]}, as measured on this computer:"]
    for name, value in measured.items():
        if name == reference:
            continue
        ratio = value / ref if larger_is_faster else ref / value  # > 1: faster than the reference
        numbers_ko = f"{fmt_ko.format(value, ref)}, 속도 {ratio:.2f}배"
        numbers_en = f"{fmt_en.format(value, ref)}, {ratio:.2f}x the speed"
        if abs(ratio - 1) <= same_within:
            ko.append(f"- {josa(name, '은/는')} {josa(reference, '과/와')} 속도가 거의 같았습니다({numbers_ko}).")
            en.append(f"- {name} was about as fast as {reference} ({numbers_en}).")
        elif ratio > 1:
            ko.append(f"- {josa(name, '은/는')} {reference}보다 빨랐습니다({numbers_ko}).")
            en.append(f"- {name} was faster than {reference} ({numbers_en}).")
        else:
            ko.append(f"- {josa(name, '은/는')} {reference}보다 느렸습니다({numbers_ko}).")
            en.append(f"- {name} was slower than {reference} ({numbers_en}).")
    return say("\n".join(ko), "\n".join(en))


@dataclass(frozen=True)
class TimedGeneration:
    """Output and timing of one ``generate`` call: see :func:`timed_generate`."""

    output_ids: torch.Tensor
    new_tokens: int
    seconds: float  # the whole call: reading the prompt (prefill) and every new token
    step_times: tuple[float, ...] = ()  # when each new token's scores were ready (greedy/sampling only)

    @property
    def tokens_per_second(self) -> float:
        """New tokens ÷ the whole call, prompt reading included: what a user waits for."""
        return self.new_tokens / self.seconds

    @property
    def decode_tokens_per_second(self) -> float:
        """Tokens per second after the first one: decoding alone, without reading the prompt."""
        if len(self.step_times) < 2:
            return self.tokens_per_second
        return (len(self.step_times) - 1) / (self.step_times[-1] - self.step_times[0])


class _StepClock:
    """A logits processor that only notes the time: ``generate`` calls it once per new token."""

    def __init__(self, device):
        self.device, self.times = device, []

    def __call__(self, input_ids, scores):
        synchronize(self.device)
        self.times.append(time.perf_counter())
        return scores


def timed_generate(model, inputs, max_new_tokens: int = 16, **generate_kwargs) -> TimedGeneration:
    """Greedy ``generate`` with its time, and the time of each decoding step (notebook 08).

    ``seconds`` covers the whole call; ``decode_tokens_per_second`` leaves out
    reading the prompt, which is what memory bandwidth limits. Assisted
    decoding (``prompt_lookup_num_tokens``, ``assistant_model``) scores several
    tokens per step, so only the whole call is timed there.
    """
    from transformers import LogitsProcessorList

    generate_kwargs.setdefault("do_sample", False)
    inputs = {k: v.to(model.device) if hasattr(v, "to") else v for k, v in inputs.items()}  # inputs follow the model
    assisted = "prompt_lookup_num_tokens" in generate_kwargs or "assistant_model" in generate_kwargs
    clock = _StepClock(model.device)
    if not assisted and "logits_processor" not in generate_kwargs:
        generate_kwargs["logits_processor"] = LogitsProcessorList([clock])
    synchronize(model.device)
    start = time.perf_counter()
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, **generate_kwargs)
    synchronize(model.device)
    seconds = time.perf_counter() - start
    return TimedGeneration(out, out.shape[1] - inputs["input_ids"].shape[1], seconds, tuple(clock.times))


# --------------------------------------------------------------------------
# 8. Mixture of experts: which experts the tokens wake up
# --------------------------------------------------------------------------


def selected_experts(router_logits, top_k: int) -> torch.Tensor:
    """The experts each token is sent to, per layer: shape ``(num_layers, tokens, top_k)`` (notebook 08).

    ``router_logits`` is what a MoE model returns with
    ``output_router_logits=True``: one ``(tokens, num_experts)`` tensor per layer.
    """
    top_k = positive_int(top_k, "top_k", "고를 전문가 수")
    return torch.stack([logits.float().topk(top_k, dim=-1).indices for logits in router_logits])


def distinct_experts(selected: torch.Tensor, n_tokens: int) -> list[int]:
    """How many different experts the last ``n_tokens`` tokens use, in each layer (notebook 08)."""
    n_tokens = positive_int(n_tokens, "n_tokens", "토큰 수")
    return [len(set(layer[-n_tokens:].reshape(-1).tolist())) for layer in selected]
