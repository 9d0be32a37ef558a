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
* **Quantization from scratch**: absmax int8 per tensor and per row
  (:func:`absmax_quantize`), zero-point (:func:`zeropoint_quantize`), and
  blockwise NF4 with its code book built from normal quantiles
  (:func:`nf4_code_book`, :func:`nf4_quantize`), following Dettmers et al.,
  LLM.int8() (2022) and QLoRA (2023). The course's tests check that they give
  what ``bitsandbytes.functional`` gives on the same tensor.
* **Perplexity on a fixed text with a sliding window** (:func:`sliding_window_nll`,
  :func:`text_perplexity`) on the course-written held-out texts
  (:func:`heldout_text`), with bits per character and per byte, which unlike
  perplexity per token can be compared across tokenizers.
* **Timing and routing**: :func:`timed_generate` times ``generate`` step by
  step; :func:`selected_experts` reads which experts a MoE's router picked.
* **What bitsandbytes does on this machine**: :func:`bitsandbytes_path` says
  which int8 and 4-bit kernels it takes on the learner's CPU or GPU;
  :func:`stored_layout` shows how a layer's weight and scales are stored, before
  and after bitsandbytes repacks 4-bit weights for a CPU with AVX-512-BF16
  (``packing_format_for_cpu``); :func:`stored_4bit` reads the codes and scales
  back in bitsandbytes' standard order from either layout; :func:`compare_speeds`
  turns measured speeds into sentences, so no lesson states "faster" or
  "slower" that the learner's own run did not measure.

Sizes are in decimal units (1 MB = 10⁶ bytes, 1 GB = 10⁹ bytes), as
``get_memory_footprint`` users and GPU vendors write them. Bad input raises a
``ValueError`` in Korean and English that names the valid range.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections import Counter
from dataclasses import dataclass

import torch

from .device import device_type, fast_bfloat16, synchronize
from .i18n import bilingual, josa

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
        blocksize = _positive_int(blocksize, "blocksize", "블록 크기")
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


def _named(name_ko: str, name: str, pair: str) -> str:
    """``"대역폭(bandwidth)은"``: the particle follows the Korean word, not the English one in brackets."""
    return f"{name_ko}({name}){josa(name_ko, pair)[len(name_ko):]}"


def _positive_int(value, name: str, name_ko: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(bilingual(f"{_named(name_ko, name, '은/는')} 1 이상의 정수여야 합니다 (받은 값: {value!r}).",
                                   f"{name} must be a whole number >= 1 (got {value!r})."))
    return value


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
    keep = _positive_int(keep, "keep", "단위 개수")
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


def _tensor_bytes(t) -> int:
    return 0 if t is None else t.numel() * t.element_size()


def _row_scales(module):
    """An int8 layer's row scales: on the weight when loaded, on the layer's state after the first forward."""
    weight = getattr(module, "weight", None)
    scb = getattr(weight, "SCB", None)
    return scb if scb is not None else getattr(getattr(module, "state", None), "SCB", None)


def _scale_bytes(module) -> int:
    """Bytes of the scales one bitsandbytes layer keeps outside its parameters (0 for any other layer)."""
    weight = getattr(module, "weight", None)
    kind = type(weight).__name__
    if kind == "Int8Params":
        return _tensor_bytes(_row_scales(module))
    state = getattr(weight, "quant_state", None)
    if kind == "Params4bit" and state is not None:
        total = _tensor_bytes(state.absmax)
        if getattr(state, "nested", False) and getattr(state, "state2", None) is not None:
            total += _tensor_bytes(state.state2.absmax)
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
    return sum(_scale_bytes(module) for module in model.modules())


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


def _quiet_hub_kernel_notice() -> None:
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
    from .models import _quiet_old_release_noise

    _quiet_hub_kernel_notice()
    _quiet_old_release_noise()


def require_bitsandbytes() -> str:
    """The installed bitsandbytes version, or an ImportError that says how to install it (notebook 08).

    Imports bitsandbytes with its one-line notice about the optional Hub kernel
    filtered out (see :func:`quiet_known_notices`).
    """
    _quiet_hub_kernel_notice()
    try:
        import bitsandbytes
    except ImportError as err:
        raise ImportError(bilingual(
            "이 노트북은 bitsandbytes가 필요합니다. 설치하세요: pip install bitsandbytes "
            "(Colab에서는 노트북의 첫 코드 셀이 설치합니다. 직접 설치했다면 런타임을 다시 시작한 뒤 처음부터 실행하세요. 0.47 이상이면 CPU에서도 돌아갑니다).",
            "This notebook needs bitsandbytes. Install it with: pip install bitsandbytes "
            "(on Colab the notebook's first code cell installs it; after installing it by hand, restart the runtime and run from the top, since transformers looks for it once per kernel; 0.47 or later also runs on a CPU).")) from err
    return bitsandbytes.__version__


@dataclass(frozen=True)
class BitsandbytesPath:
    """Which kernels bitsandbytes uses on one device: see :func:`bitsandbytes_path`."""

    device_type: str  # "cpu", "cuda", "mps", ...
    cpu_capability: str | None  # torch's CPU kernel level: "AVX512", "AVX2", "DEFAULT" (ARM), ...
    avx512_bf16: bool  # bitsandbytes' own check (has_avx512bf16): picks the 4-bit CPU path
    int8_int_mm: bool  # int8 products as int8 x int8 -> int32 (torch._int_mm); else in float32
    hub_kernel: bool  # the optional 4-bit kernel from kernels-community was loaded
    fast_bfloat16: bool  # oneDNN has a bfloat16 path for this CPU (llm_course.device.fast_bfloat16)

    @property
    def repacks_4bit(self) -> bool:
        """True where the first no-grad forward pass repacks 4-bit weights (``packing_format_for_cpu``)."""
        return self.device_type == "cpu" and self.avx512_bf16

    def __str__(self) -> str:
        if self.device_type == "cuda":
            return bilingual(
                "bitsandbytes: CUDA 커널. int8은 LLM.int8() 행렬곱, 4비트는 가중치를 읽으면서 풀어 곱하는 융합 커널(fused kernel)입니다.",
                "bitsandbytes: CUDA kernels. int8 runs LLM.int8()'s matrix product; 4-bit a fused kernel that "
                "de-quantizes the weights as it reads them.")
        if self.device_type != "cpu":
            return bilingual(f"bitsandbytes: {self.device_type} 백엔드의 커널을 씁니다.",
                             f"bitsandbytes: the kernels of its {self.device_type} back end.")
        ko, en = [f"CPU capability {self.cpu_capability}, AVX-512-BF16: {'있음' if self.avx512_bf16 else '없음'}"], \
            [f"CPU capability {self.cpu_capability}, AVX-512-BF16: {'yes' if self.avx512_bf16 else 'no'}"]
        if self.int8_int_mm:
            ko.append("int8: 활성값도 int8로 바꿔 int8끼리 곱합니다(torch._int_mm, AVX-512).")
            en.append("int8: the activations become int8 too, and int8 multiplies int8 (torch._int_mm, AVX-512).")
        else:
            ko.append("int8: 곱할 때마다 int8 가중치와 활성값을 float32로 바꿔 float32 행렬곱을 합니다"
                      "(torch가 AVX-512 커널을 쓰지 않는 CPU).")
            en.append("int8: every product turns the int8 weights and activations into float32 and multiplies "
                      "in float32 (torch runs no AVX-512 kernels here).")
        if self.avx512_bf16:
            ko.append("4비트: 기울기 없는 첫 순전파 때 가중치를 CPU용 배열로 한 번 다시 담고(packing_format_for_cpu), 그 뒤로는 "
                      "4비트 코드를 읽으면서 바로 bfloat16으로 곱하는 융합 커널(fused kernel)을 씁니다.")
            en.append("4-bit: the first forward pass without gradients repacks the weights once for the CPU (packing_format_for_cpu); "
                      "from then on a fused kernel multiplies in bfloat16 straight from the 4-bit codes.")
            if self.hub_kernel:
                ko.append("  그 커널은 허브의 kernels-community에서 받은 것입니다(`kernels` 패키지).")
                en.append("  That kernel came from the Hub's kernels-community (the `kernels` package).")
            else:
                ko.append("  그 커널은 bitsandbytes에 들어 있는 것입니다. 허브의 kernels-community 커널은 `kernels` 패키지가 "
                          "있어야 받아 쓰는데, 이 강좌는 인터넷 없이 돌아가도록 그 패키지를 설치하지 않습니다.")
                en.append("  That kernel is the one built into bitsandbytes. The Hub's kernels-community kernel needs the "
                          "optional `kernels` package, which the course leaves out so that it runs offline.")
        else:
            ko.append("4비트: 곱할 때마다 층의 가중치 전체를 float32로 풀어 놓고 보통의 행렬곱을 합니다(AVX-512-BF16이 없는 CPU).")
            en.append("4-bit: every product de-quantizes the layer's whole weight to float32, then runs an ordinary "
                      "matrix product (no AVX-512-BF16).")
        if self.fast_bfloat16:
            ko.append("bfloat16 연산(torch): oneDNN에 이 CPU용 bfloat16 경로가 있습니다.")
            en.append("bfloat16 arithmetic (torch): oneDNN has a bfloat16 path for this CPU.")
        else:
            ko.append("bfloat16 연산(torch): oneDNN에 이 CPU용 bfloat16 경로가 없어, float32로 바꿔 가며 느리게 계산합니다.")
            en.append("bfloat16 arithmetic (torch): oneDNN has no bfloat16 path for this CPU, so it computes slowly, "
                      "through float32.")
        return bilingual("\n".join(ko), "\n".join(en))


def bitsandbytes_path(device="cpu") -> BitsandbytesPath:
    """Which int8 and 4-bit kernels bitsandbytes takes on ``device``, read from bitsandbytes itself (notebook 08).

    On a CPU, bitsandbytes (0.50) decides twice. int8 products use
    ``torch._int_mm`` where torch runs AVX-512 kernels, and float32 products of
    the converted int8 values elsewhere. 4-bit layers, where the CPU has
    AVX-512-BF16 (bitsandbytes' ``has_avx512bf16``), are repacked at the first
    no-grad forward pass into a CPU layout whose fused kernel computes in
    bfloat16 straight from the codes; elsewhere the whole weight is
    de-quantized to float32 before every product. Print the result to read it
    in Korean and English.
    """
    require_bitsandbytes()
    import bitsandbytes.functional as bnb_functional

    kind = device_type(device)
    capability = torch.backends.cpu.get_cpu_capability() if kind == "cpu" else None
    avx512_bf16 = bool(getattr(bnb_functional, "has_avx512bf16", lambda: False)())
    try:
        from bitsandbytes.backends.cpu import ops as cpu_ops
    except ImportError:  # a build without the CPU back end
        cpu_ops = None
    int_mm = bool(getattr(cpu_ops, "_has_avx512", capability == "AVX512"))
    hub = getattr(cpu_ops, "gemm_4bit_forward_kernel", None) is not None
    return BitsandbytesPath(device_type=kind, cpu_capability=capability, avx512_bf16=avx512_bf16,
                            int8_int_mm=int_mm, hub_kernel=hub, fast_bfloat16=fast_bfloat16(device))


@dataclass(frozen=True)
class StoredLayout:
    """How one layer's weight and its scales are stored right now: see :func:`stored_layout`."""

    kind: str  # the weight's class: "Params4bit", "Int8Params", "Parameter"
    weight_dtype: str
    weight_shape: tuple[int, ...]
    weight_bytes: int
    scale_dtype: str | None  # 4-bit: the block absmax; int8: the row scales (SCB); None without scales
    scale_shape: tuple[int, ...] | None
    scale_bytes: int  # all of the layer's scale bytes, a double-quantization state included
    double_quant: bool  # 4-bit scales stored in 8 bits with a second-level state
    packed_for_cpu: bool  # bitsandbytes' CPU layout for AVX-512-BF16 (quant_state.packing_format_for_cpu)

    def __str__(self) -> str:
        text = f"weight {self.weight_dtype} {self.weight_shape}"
        if self.scale_dtype is not None:
            text += f", scales {self.scale_dtype} {self.scale_shape}"
            text += " (8-bit, double quantization)" if self.double_quant else ""
        text += f", packing_format_for_cpu={self.packed_for_cpu}"
        return text


def _dtype_str(dtype) -> str:
    return str(dtype).replace("torch.", "")


def stored_layout(layer) -> StoredLayout:
    """How ``layer``'s weight and scales are stored at this moment (notebook 08).

    Call it on a bitsandbytes layer (``Linear4bit``, ``Linear8bitLt``) or any
    layer with a ``weight``. A 4-bit weight as loaded is bitsandbytes' standard
    layout: ``(out·in/2, 1)`` uint8, two codes per byte in memory order, one
    float32 absmax per block of 64. On a CPU with AVX-512-BF16 the first no-grad
    forward pass (``Linear4bit.forward``) rewrites it for the CPU's kernel:
    ``(out, in/2)`` uint8 with the codes regrouped 32 rows at a time, absmax
    turned into bfloat16 and transposed to ``(in/64, out)``, and double
    quantization undone; ``quant_state.packing_format_for_cpu`` becomes True.
    Comparing the layout before and after that pass shows which path ran.
    """
    weight = getattr(layer, "weight", None)
    if weight is None:
        raise ValueError(bilingual("이 층에는 weight가 없습니다. nn.Linear나 bitsandbytes의 Linear4bit/Linear8bitLt를 넘기세요.",
                                   "This layer has no weight; pass an nn.Linear or a bitsandbytes Linear4bit/Linear8bitLt."))
    kind = type(weight).__name__
    scales, state = None, getattr(weight, "quant_state", None)
    if kind == "Int8Params":
        scales = _row_scales(layer)
    elif kind == "Params4bit" and state is not None:
        scales = state.absmax
    nested = bool(kind == "Params4bit" and state is not None and getattr(state, "nested", False))
    return StoredLayout(
        kind=kind, weight_dtype=_dtype_str(weight.dtype), weight_shape=tuple(weight.shape),
        weight_bytes=_tensor_bytes(weight), scale_dtype=None if scales is None else _dtype_str(scales.dtype),
        scale_shape=None if scales is None else tuple(scales.shape), scale_bytes=_scale_bytes(layer),
        double_quant=nested, packed_for_cpu=bool(getattr(state, "packing_format_for_cpu", False)))


def layout_change(before: StoredLayout, after: StoredLayout) -> str:
    """What happened to a layer's storage between two :func:`stored_layout` readings (notebook 08).

    Korean first, English on the next line, like every message of the course.
    """
    if after.packed_for_cpu and not before.packed_for_cpu:
        dq_ko = " 이중 양자화도 풀려 8비트 스케일이 bfloat16이 되었습니다." if before.double_quant and not after.double_quant else ""
        dq_en = " Double quantization is undone (8-bit scales became bfloat16)." if before.double_quant \
            and not after.double_quant else ""
        return bilingual(
            f"첫 순전파에서 bitsandbytes가 이 층을 CPU용 배열로 다시 담았습니다: 가중치 {before.weight_dtype} "
            f"{before.weight_shape} → {after.weight_shape}, 바이트 수는 {after.weight_bytes:,} 그대로, 스케일 "
            f"{before.scale_dtype} {before.scale_shape} → {after.scale_dtype} {after.scale_shape}, "
            f"스케일 바이트 {before.scale_bytes:,} → {after.scale_bytes:,}.{dq_ko}",
            f"At the first forward pass bitsandbytes repacked this layer for the CPU: weight {before.weight_dtype} "
            f"{before.weight_shape} -> {after.weight_shape} (still {after.weight_bytes:,} bytes), scales "
            f"{before.scale_dtype} {before.scale_shape} -> {after.scale_dtype} {after.scale_shape}, "
            f"scale bytes {before.scale_bytes:,} -> {after.scale_bytes:,}.{dq_en}")
    if before == after:
        return bilingual("첫 순전파 뒤에도 저장 방식이 그대로입니다: 불러온 배열 그대로 계산합니다.",
                         "The storage is unchanged after the first forward pass: the layer computes from the "
                         "layout it was loaded in.")
    return bilingual(f"저장 방식이 바뀌었습니다: {before} → {after}.", f"The storage changed: {before} -> {after}.")


def stored_4bit(weight) -> tuple[torch.Tensor, torch.Tensor]:
    """A 4-bit weight's codes and block scales in bitsandbytes' standard order, from either layout (notebook 08).

    Returns ``(packed, absmax)``: ``packed`` is uint8 of shape ``(out·in/2,)``,
    two codes per byte in memory order with the first in the high half (what
    ``bitsandbytes.functional.quantize_4bit`` returns and what a loaded
    ``Linear4bit`` holds); ``absmax`` one scale per block of 64 in memory order,
    at the precision the layer stores it: float32 as loaded, bfloat16 once
    repacked for an AVX-512-BF16 CPU, and de-quantized to float32 under double
    quantization. The CPU layout is undone with bitsandbytes' own inverse,
    ``_convert_weight_packed_for_cpu_inverse``, on a copy: the layer keeps its layout.
    """
    state = getattr(weight, "quant_state", None)
    if type(weight).__name__ != "Params4bit" or state is None:
        raise ValueError(bilingual(
            "4비트로 양자화된 가중치(Params4bit, 예: layer.weight)를 넘기세요.",
            "Pass a 4-bit quantized weight (a Params4bit, such as layer.weight of a Linear4bit)."))
    import bitsandbytes.functional as bnb_functional

    data = weight.detach()
    data = data if data.dtype == torch.uint8 else data.view(torch.uint8)
    if getattr(state, "packing_format_for_cpu", False):
        # (out, in/2) CPU layout -> (out·in/2, 1) standard; the inverse edits the state it gets, so give it a copy
        packed, _ = bnb_functional._convert_weight_packed_for_cpu_inverse(data.clone(), copy.deepcopy(state))
        packed = packed if packed.dtype == torch.uint8 else packed.view(torch.uint8)
        absmax = state.absmax.T.reshape(-1)  # (in/64, out) -> (out, in/64) -> block order
    else:
        packed = data
        absmax = state.absmax
        if getattr(state, "nested", False):
            absmax = bnb_functional.dequantize_blockwise(state.absmax, state.state2) + state.offset
    return packed.reshape(-1), absmax


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
    batch_size = _positive_int(batch_size, "batch_size", "배치 크기")
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
    size_mb = _positive_int(size_mb, "size_mb", "크기")
    x = torch.ones(size_mb * 1_000_000 // 4, dtype=torch.float32, device=device)
    x.sum()
    synchronize(device)
    best = math.inf
    for _ in range(_positive_int(repeats, "repeats", "반복 횟수")):
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
                f"{_named(name_ko, name, '은/는')} 0보다 큰 수(바이트/초 또는 바이트)여야 합니다 (받은 값: {value!r}). "
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
    return bilingual("\n".join(ko), "\n".join(en))


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
# 6. Quantization from scratch
# --------------------------------------------------------------------------


def _check_bits(bits) -> int:
    if isinstance(bits, bool) or not isinstance(bits, int) or not 2 <= bits <= 8:
        raise ValueError(bilingual(f"비트 수는 2에서 8 사이의 정수여야 합니다 (받은 값: {bits!r}).",
                                   f"bits must be a whole number from 2 to 8 (got {bits!r})."))
    return bits


def absmax_quantize(x: torch.Tensor, bits: int = 8, dim: int | None = None):
    """Symmetric absmax quantization: ``q = round(x · qmax / absmax)``, with qmax = 127 for 8 bits (notebook 08).

    ``dim=None`` uses one scale for the whole tensor; ``dim=1`` one per row
    (what bitsandbytes' LLM.int8() does for a weight of shape
    ``(out_features, in_features)``). Returns ``(q, absmax)``: ``q`` as int8,
    ``absmax`` as float32 (shape ``()`` or ``(rows, 1)``).
    """
    qmax = 2 ** (_check_bits(bits) - 1) - 1
    x = x.float()
    absmax = x.abs().amax() if dim is None else x.abs().amax(dim=dim, keepdim=True)
    q = torch.round(x * (qmax / absmax)).clamp(-qmax, qmax).to(torch.int8)
    return q, absmax


def absmax_dequantize(q: torch.Tensor, absmax: torch.Tensor, bits: int = 8) -> torch.Tensor:
    """Back from :func:`absmax_quantize`: ``q · absmax / qmax`` (notebook 08)."""
    qmax = 2 ** (_check_bits(bits) - 1) - 1
    return q.float() * (absmax / qmax)


def zeropoint_quantize(x: torch.Tensor, bits: int = 8, dim: int | None = None):
    """Asymmetric (zero-point) quantization onto the integers -2^(bits-1) .. 2^(bits-1)-1 (notebook 08).

    The range [min, max] is stretched over all 2^bits levels, so a lopsided
    range (all positive, say) wastes none of them; an integer zero point marks
    where 0.0 falls. Returns ``(q, scale, zero_point)``.
    """
    bits = _check_bits(bits)
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    x = x.float()
    x_min = x.amin() if dim is None else x.amin(dim=dim, keepdim=True)
    x_max = x.amax() if dim is None else x.amax(dim=dim, keepdim=True)
    scale = (x_max - x_min).clamp(min=1e-12) / (high - low)
    zero_point = torch.round(low - x_min / scale)
    q = torch.clamp(torch.round(x / scale) + zero_point, low, high).to(torch.int8)
    return q, scale, zero_point


def zeropoint_dequantize(q: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor) -> torch.Tensor:
    """Back from :func:`zeropoint_quantize`: ``(q - zero_point) · scale`` (notebook 08)."""
    return (q.float() - zero_point) * scale


def _blocks(x: torch.Tensor, blocksize: int) -> torch.Tensor:
    flat = x.float().reshape(-1)
    if flat.numel() % blocksize:
        raise ValueError(bilingual(
            f"원소 수({flat.numel()})가 블록 크기({blocksize})로 나누어떨어져야 합니다.",
            f"The number of elements ({flat.numel()}) must be a multiple of the block size ({blocksize})."))
    return flat.reshape(-1, blocksize)  # (num_blocks, blocksize): one scale per row from here on


def blockwise_absmax_roundtrip(x: torch.Tensor, bits: int, blocksize: int = BNB_BLOCKSIZE) -> torch.Tensor:
    """``x`` quantized with absmax per block of ``blocksize`` to ``bits`` bits, and back (notebook 08)."""
    blocks = _blocks(x, _positive_int(blocksize, "blocksize", "블록 크기"))
    q, absmax = absmax_quantize(blocks, bits=bits, dim=1)
    return absmax_dequantize(q, absmax, bits=bits).reshape(x.shape)


NF4_OFFSET = (1 - 1 / (2 * 15) + 1 - 1 / (2 * 16)) / 2  # 0.9677083...: keeps the outermost quantiles finite


def nf4_code_book(offset: float = NF4_OFFSET) -> torch.Tensor:
    """The 16 values of NormalFloat4, built from quantiles of the standard normal distribution (notebook 08).

    QLoRA's idea: trained weights are roughly normal, so place the 16 levels
    where a normal distribution puts equal probability mass, not evenly.
    8 positive levels are the normal quantiles at probabilities evenly spaced
    from ``offset`` down to 0.5, 7 negative ones the same with one fewer, plus
    an exact 0; then everything is scaled into [-1, 1]. ``offset`` =
    (1 - 1/(2·15) + 1 - 1/(2·16)) / 2 keeps the end levels finite.
    """
    normal = torch.distributions.Normal(torch.tensor(0.0, dtype=torch.float64),
                                        torch.tensor(1.0, dtype=torch.float64))
    positive = normal.icdf(torch.linspace(offset, 0.5, 9, dtype=torch.float64)[:-1])
    negative = -normal.icdf(torch.linspace(offset, 0.5, 8, dtype=torch.float64)[:-1])
    values = torch.cat([positive, torch.zeros(1, dtype=torch.float64), negative]).sort().values
    return (values / values.max()).float()


def nf4_quantize(x: torch.Tensor, blocksize: int = BNB_BLOCKSIZE, code: torch.Tensor | None = None):
    """Blockwise 4-bit quantization onto a code book (NF4 by default), as bitsandbytes does it (notebook 08).

    Each block of ``blocksize`` consecutive weights (in memory order) is
    divided by its absmax, so it lies in [-1, 1], and each value becomes the
    index (0-15) of the nearest code-book entry. Returns ``(codes, absmax)``:
    ``codes`` as uint8 with one index per weight, ``absmax`` one float32 per block.
    :func:`pack_4bit` puts two indices in a byte. Everything stays on ``x``'s device
    (the code book is built on the CPU, in float64, and moved there).
    """
    blocks = _blocks(x, _positive_int(blocksize, "blocksize", "블록 크기"))
    code = (nf4_code_book() if code is None else code.float()).to(blocks.device)
    absmax = blocks.abs().amax(dim=1)
    scaled = torch.clamp(blocks * (1.0 / absmax.clamp(min=1e-38))[:, None], -1, 1)
    midpoints = (code[:-1] + code[1:]) / 2  # nearest entry = how many midpoints lie below the value
    codes = torch.bucketize(scaled, midpoints).to(torch.uint8)
    return codes.reshape(-1), absmax


def nf4_dequantize(codes: torch.Tensor, absmax: torch.Tensor, shape, blocksize: int = BNB_BLOCKSIZE,
                   code: torch.Tensor | None = None) -> torch.Tensor:
    """Back from :func:`nf4_quantize`: code-book value × the block's absmax, in ``shape`` (notebook 08).

    The result is on ``codes``' device, like the code book it is looked up in.
    """
    code = (nf4_code_book() if code is None else code.float()).to(codes.device)
    values = code[codes.long()].reshape(-1, blocksize) * absmax[:, None]  # (num_blocks, blocksize)
    return values.reshape(shape)


def pack_4bit(codes: torch.Tensor) -> torch.Tensor:
    """Two 4-bit indices per byte, the first in the high half, as bitsandbytes stores them (notebook 08)."""
    codes = codes.reshape(-1).to(torch.uint8)
    return (codes[0::2] << 4) | codes[1::2]


def relative_error(x: torch.Tensor, x_hat: torch.Tensor) -> float:
    """Root-mean-square error of ``x_hat`` relative to the RMS of ``x`` (0 = exact) (notebook 08)."""
    x, x_hat = x.float(), x_hat.float()
    return float((x - x_hat).pow(2).mean().sqrt() / x.pow(2).mean().sqrt())


# --------------------------------------------------------------------------
# 7. Perplexity of a fixed text, with a sliding window
# --------------------------------------------------------------------------


def sliding_window_nll(model, input_ids: torch.Tensor, *, max_length: int = 128, stride: int = 64):
    """Total negative log-likelihood (nats) of ``input_ids[0, 1:]``, scored window by window (notebook 08).

    A text longer than the window is read in windows of ``max_length``
    tokens that start every ``stride`` tokens; each window scores only the
    tokens no earlier window scored, so every token is predicted exactly once,
    with at least ``max_length - stride`` tokens of context once the text is
    long enough. ``stride`` must be smaller than ``max_length``: a window needs
    one token of its own before the first token it scores. Returns
    ``(nll_sum, n_predicted, n_windows)``; perplexity is
    ``exp(nll_sum / n_predicted)``. ``input_ids`` has shape ``(1, seq_len)``.
    """
    max_length = _positive_int(max_length, "max_length", "창 길이")
    stride = _positive_int(stride, "stride", "보폭")
    if stride >= max_length:
        raise ValueError(bilingual(
            f"보폭(stride {stride})은 창 길이(max_length {max_length})보다 작아야 합니다 (1 ~ {max_length - 1}). "
            "창마다 채점할 토큰 앞에 문맥 토큰이 하나는 있어야 합니다.",
            f"stride ({stride}) must be smaller than max_length ({max_length}), from 1 to {max_length - 1}: "
            "each window needs a token of context before the first token it scores."))
    input_ids = input_ids.to(model.device)
    seq_len = input_ids.shape[1]
    nll_sum, n_predicted, n_windows, scored_until = 0.0, 0, 0, 1  # position 0 has nothing before it
    for begin in range(0, seq_len, stride):
        end = min(begin + max_length, seq_len)
        new = end - scored_until  # targets not scored by an earlier window
        window = input_ids[:, begin:end]  # (1, window_len)
        with torch.no_grad():
            # logits_to_keep: the output layer runs only where it predicts a new target
            logits = model(window, logits_to_keep=new + 1).logits[:, :-1]  # (1, new, vocab_size)
        log_probs = torch.log_softmax(logits.float(), dim=-1)
        targets = window[:, -new:]  # (1, new)
        nll_sum -= float(log_probs.gather(-1, targets[..., None]).sum())
        n_predicted += new
        n_windows += 1
        scored_until = end
        if end == seq_len:
            break
    return nll_sum, n_predicted, n_windows


@dataclass(frozen=True)
class Perplexity:
    """One model on one text: see :func:`text_perplexity`."""

    nll: float  # total negative log-likelihood in nats
    tokens: int  # tokens predicted
    characters: int
    utf8_bytes: int
    windows: int

    @property
    def perplexity(self) -> float:
        return math.exp(self.nll / self.tokens)

    @property
    def bits_per_character(self) -> float:
        return self.nll / math.log(2) / self.characters

    @property
    def bits_per_byte(self) -> float:
        return self.nll / math.log(2) / self.utf8_bytes


HELDOUT_FILES = {"ko": "heldout_ko.txt", "en": "heldout_en.txt"}


def heldout_text(lang: str) -> str:
    """The course-written held-out text of ``lang`` (``"ko"`` or ``"en"``) from ``assets/`` (notebook 08).

    Written for this lesson and used by no other, so no model was trained on it
    and no lesson tunes anything on it. Comment lines (``#``) are dropped.
    """
    from . import asset_path

    if lang not in HELDOUT_FILES:
        raise ValueError(bilingual(f"언어는 {' 또는 '.join(map(repr, HELDOUT_FILES))} 중 하나입니다 (받은 값: {lang!r}).",
                                   f"lang must be one of {', '.join(map(repr, HELDOUT_FILES))} (got {lang!r})."))
    lines = asset_path(HELDOUT_FILES[lang]).read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if line.strip() and not line.startswith("#"))


def text_ids(tokenizer, text: str) -> torch.Tensor:
    """``text`` as ``(1, seq_len)`` input ids after one start token, so every token of the text is scored (notebook 08).

    The start token is the tokenizer's ``bos_token`` (for SmolLM2
    ``<|im_start|>``), or its ``eos_token`` when it has no bos.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(bilingual("점수를 매길 글이 비어 있습니다. 문자열을 넣으세요.",
                                   "The text to score is empty; pass a string."))
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return torch.tensor([[start, *ids]])


def text_perplexity(model, tokenizer, text: str, *, max_length: int = 128, stride: int = 64) -> Perplexity:
    """Perplexity, bits per character and bits per UTF-8 byte of ``model`` on ``text`` (notebook 08).

    Perplexity per token depends on the tokenizer: a Hangul syllable that
    takes three byte-level tokens, two of them easy to guess, lowers it. Bits
    per character or byte measure the text itself, so they compare languages
    and tokenizers.
    """
    nll, n, windows = sliding_window_nll(model, text_ids(tokenizer, text), max_length=max_length, stride=stride)
    return Perplexity(nll=nll, tokens=n, characters=len(text), utf8_bytes=len(text.encode("utf-8")),
                      windows=windows)


# --------------------------------------------------------------------------
# 8. Mixture of experts: which experts the tokens wake up
# --------------------------------------------------------------------------


def selected_experts(router_logits, top_k: int) -> torch.Tensor:
    """The experts each token is sent to, per layer: shape ``(num_layers, tokens, top_k)`` (notebook 08).

    ``router_logits`` is what a MoE model returns with
    ``output_router_logits=True``: one ``(tokens, num_experts)`` tensor per layer.
    """
    top_k = _positive_int(top_k, "top_k", "고를 전문가 수")
    return torch.stack([logits.float().topk(top_k, dim=-1).indices for logits in router_logits])


def distinct_experts(selected: torch.Tensor, n_tokens: int) -> list[int]:
    """How many different experts the last ``n_tokens`` tokens use, in each layer (notebook 08)."""
    n_tokens = _positive_int(n_tokens, "n_tokens", "토큰 수")
    return [len(set(layer[-n_tokens:].reshape(-1).tolist())) for layer in selected]
