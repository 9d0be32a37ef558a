"""What 4-bit and 8-bit weights are, by hand and in bitsandbytes, on the learner's machine (notebook 08).

* **Quantization from scratch**: absmax int8 per tensor and per row
  (:func:`absmax_quantize`), zero-point (:func:`zeropoint_quantize`), and
  blockwise NF4 with its code book built from normal quantiles
  (:func:`nf4_code_book`, :func:`nf4_quantize`), following Dettmers et al.,
  LLM.int8() (2022) and QLoRA (2023). The course's tests check that they give
  what ``bitsandbytes.functional`` gives on the same tensor.
* **What bitsandbytes does on this machine**: :func:`bitsandbytes_path` says
  which int8 and 4-bit kernels it takes on the learner's CPU or GPU;
  :func:`stored_layout` shows how a layer's weight and scales are stored, before
  and after bitsandbytes repacks 4-bit weights for a CPU with AVX-512-BF16
  (``packing_format_for_cpu``); :func:`stored_4bit` reads the codes and scales
  back in bitsandbytes' standard order from either layout.

The memory arithmetic these formats lead to (bytes per parameter, footprints,
the KV cache, bandwidth) is :mod:`llm_course.memory`'s.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from .device import device_type, fast_bfloat16
from .i18n import bilingual, say
from .memory import BNB_BLOCKSIZE, quiet_hub_kernel_notice, row_scales, scale_bytes, tensor_bytes
from .validation import positive_int


# --------------------------------------------------------------------------
# 1. What bitsandbytes does on this machine
# --------------------------------------------------------------------------


def require_bitsandbytes() -> str:
    """The installed bitsandbytes version, or an ImportError that says how to install it (notebook 08).

    Imports bitsandbytes with its one-line notice about the optional Hub kernel
    filtered out (see :func:`quiet_known_notices`).
    """
    quiet_hub_kernel_notice()
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
            return say(
                "bitsandbytes: CUDA 커널. int8은 LLM.int8() 행렬곱, 4비트는 가중치를 읽으면서 풀어 곱하는 융합 커널(fused kernel)입니다.",
                "bitsandbytes: CUDA kernels. int8 runs LLM.int8()'s matrix product; 4-bit a fused kernel that "
                "de-quantizes the weights as it reads them.")
        if self.device_type != "cpu":
            return say(f"bitsandbytes: {self.device_type} 백엔드의 커널을 씁니다.",
                             f"bitsandbytes: the kernels of its {self.device_type} back end.")
        ko, en = [f"CPU 명령어 수준(capability) {self.cpu_capability}, AVX-512-BF16: {'있음' if self.avx512_bf16 else '없음'}"], \
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
        return say("\n".join(ko), "\n".join(en))


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
        scales = row_scales(layer)
    elif kind == "Params4bit" and state is not None:
        scales = state.absmax
    nested = bool(kind == "Params4bit" and state is not None and getattr(state, "nested", False))
    return StoredLayout(
        kind=kind, weight_dtype=_dtype_str(weight.dtype), weight_shape=tuple(weight.shape),
        weight_bytes=tensor_bytes(weight), scale_dtype=None if scales is None else _dtype_str(scales.dtype),
        scale_shape=None if scales is None else tuple(scales.shape), scale_bytes=scale_bytes(layer),
        double_quant=nested, packed_for_cpu=bool(getattr(state, "packing_format_for_cpu", False)))


def layout_change(before: StoredLayout, after: StoredLayout) -> str:
    """What happened to a layer's storage between two :func:`stored_layout` readings (notebook 08).

    Korean first, English on the next line, like every message of the course.
    """
    if after.packed_for_cpu and not before.packed_for_cpu:
        dq_ko = " 이중 양자화도 풀려 8비트 스케일이 bfloat16이 되었습니다." if before.double_quant and not after.double_quant else ""
        dq_en = " Double quantization is undone (8-bit scales became bfloat16)." if before.double_quant \
            and not after.double_quant else ""
        return say(
            f"첫 순전파에서 bitsandbytes가 이 층을 CPU용 배열로 다시 담았습니다: 가중치 {before.weight_dtype} "
            f"{before.weight_shape} → {after.weight_shape}, 바이트 수는 {after.weight_bytes:,} 그대로, 스케일 "
            f"{before.scale_dtype} {before.scale_shape} → {after.scale_dtype} {after.scale_shape}, "
            f"스케일 바이트 {before.scale_bytes:,} → {after.scale_bytes:,}.{dq_ko}",
            f"At the first forward pass bitsandbytes repacked this layer for the CPU: weight {before.weight_dtype} "
            f"{before.weight_shape} -> {after.weight_shape} (still {after.weight_bytes:,} bytes), scales "
            f"{before.scale_dtype} {before.scale_shape} -> {after.scale_dtype} {after.scale_shape}, "
            f"scale bytes {before.scale_bytes:,} -> {after.scale_bytes:,}.{dq_en}")
    if before == after:
        return say("첫 순전파 뒤에도 저장 방식이 그대로입니다: 불러온 배열 그대로 계산합니다.",
                         "The storage is unchanged after the first forward pass: the layer computes from the "
                         "layout it was loaded in.")
    return say(f"저장 방식이 바뀌었습니다: {before} → {after}.", f"The storage changed: {before} -> {after}.")


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
# 2. Quantization from scratch
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
    blocks = _blocks(x, positive_int(blocksize, "blocksize", "블록 크기"))
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
    blocks = _blocks(x, positive_int(blocksize, "blocksize", "블록 크기"))
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
