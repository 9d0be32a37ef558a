"""Self-checks of notebook 08 (quantization and memory): ``quantization_*``."""

from __future__ import annotations

from ..i18n import josa
from .core import (CheckArgumentError, CheckResult, as_int_list, as_number, check, not_answered, reference,
                   reference_config, reference_int, reference_number, self_check, shown, unit_slip)


def _within(value: float, truth: float, rel: float) -> bool:
    return abs(value - truth) <= rel * abs(truth)


def _dtype(dtype) -> str:
    from .. import memory

    return reference(dtype, "dtype", memory.dtype_name)


def _config(config, *attributes: str):
    """A transformers config whose ``attributes`` are whole numbers >= 1."""
    reference_config(config)
    for name in attributes:
        reference_int(getattr(config, name, None), f"config.{name}", minimum=1)
    return config


@self_check
def quantization_model_weights(answer_gb, config, dtype: str = "bfloat16") -> CheckResult:
    """Exercise 08.1: the weights' memory, in GB, of the model ``config`` describes, in ``dtype``."""
    from .. import memory

    _config(config)
    dtype = _dtype(dtype)
    if answer_gb is None:
        return not_answered("`weights_gb`에 가중치 메모리(GB)를 계산해 넣으세요.",
                            "compute the weights' memory in GB into `weights_gb`.")
    value = as_number(answer_gb, unit="GB")
    n_params = memory.count_parameters(reference(config, "config", memory.build_on_meta))
    per = memory.bytes_per_parameter(dtype, include_scales=False)
    truth = n_params * per / 1e9
    if _within(value, n_params / 1e9, 0.01) and per != 1:
        hint = (f"{josa(f'{value:g}', '은/는')} 파라미터 수(십억 개)입니다. 파라미터 하나가 {per:g}바이트이니 곱하세요.",
                f"{value:g} is the number of parameters in billions; multiply by {per:g} bytes per parameter.")
    else:
        hint = unit_slip(value, truth * 1e9, "GB") or (
            f"{josa(f'{value:g} GB', '이/가')} 아닙니다. `memory.build_on_meta(config)`로 파라미터를 세고, {dtype}의 "
            f"바이트 수({per:g})를 곱한 뒤 1e9로 나누세요.",
            f"Not {value:g} GB. Count the parameters with `memory.build_on_meta(config)`, multiply by the "
            f"bytes of {dtype} ({per:g}) and divide by 1e9.")
    return check(
        _within(value, truth, 0.01),
        (f"맞습니다. 파라미터 {n_params:,}개({memory.korean_units(n_params, keep=1)}) × {per:g}바이트 = "
         f"{truth:.2f} GB입니다.",
         f"Right: {n_params:,} parameters × {per:g} bytes = {truth:.2f} GB."),
        hint,
    )


@self_check
def quantization_kv_cache(answer_gb, config, seq_len: int, dtype: str = "bfloat16") -> CheckResult:
    """Exercise 08.2: the KV cache, in GB, of one sequence of ``seq_len`` tokens for ``config`` in ``dtype``."""
    from .. import memory

    _config(config, "num_hidden_layers", "num_attention_heads", "hidden_size")
    seq_len = reference_int(seq_len, "seq_len", minimum=1)
    dtype = _dtype(dtype)
    if answer_gb is None:
        return not_answered("`kv_gb`에 KV 캐시 크기(GB)를 계산해 넣으세요.",
                            "compute the KV cache's size in GB into `kv_gb`.")
    value = as_number(answer_gb, unit="GB")
    truth = memory.kv_cache_bytes(config, seq_len, dtype=dtype) / 1e9
    group = config.num_attention_heads / (config.num_key_value_heads or config.num_attention_heads)
    if group != 1 and _within(value, truth * group, 0.01):
        hint = (f"쿼리 헤드 수({config.num_attention_heads})를 썼습니다. 캐시에 저장되는 것은 키/값 헤드"
                f"({config.num_key_value_heads}개)입니다 (GQA).",
                f"You used the query heads ({config.num_attention_heads}); the cache stores the key/value heads "
                f"({config.num_key_value_heads}) (GQA).")
    elif _within(value, truth / 2, 0.01):
        hint = ("키와 값, 두 가지를 저장합니다. ×2를 빠뜨렸습니다.",
                "The cache stores keys and values: the × 2 is missing.")
    else:
        hint = unit_slip(value, truth * 1e9, "GB") or (
            f"{josa(f'{value:g} GB', '이/가')} 아닙니다. 층 수 × 2 × 키/값 헤드 수 × head_dim × 토큰 수 × 바이트 ÷ 1e9입니다.",
            f"Not {value:g} GB. It is layers × 2 × key/value heads × head_dim × tokens × bytes ÷ 1e9.")
    return check(
        _within(value, truth, 0.01),
        (f"맞습니다. {seq_len:,}토큰의 KV 캐시는 {truth:.2f} GB입니다. 가중치와 따로 드는 메모리입니다.",
         f"Right: the KV cache of {seq_len:,} tokens takes {truth:.2f} GB, on top of the weights."),
        hint,
    )


@self_check
def quantization_tokens_per_second(answer, bandwidth_gb_s: float, n_params: float, dtype: str = "int8") -> CheckResult:
    """Exercise 08.3: the bandwidth ceiling of decoding, in tokens/s, for ``n_params`` weights in ``dtype``."""
    from .. import memory

    bandwidth_gb_s = reference_number(bandwidth_gb_s, "bandwidth_gb_s", positive=True)
    n_params = reference_number(n_params, "n_params", positive=True)
    dtype = _dtype(dtype)
    if answer is None:
        return not_answered("`predicted_tps`에 예상 초당 토큰 수를 넣으세요.",
                            "put the predicted tokens per second into `predicted_tps`.")
    value = as_number(answer, unit="tokens/s")
    per_token = memory.weights_memory(n_params, dtype, include_scales=False)
    truth = memory.predicted_tokens_per_second(bandwidth_gb_s * 1e9, per_token)
    if _within(value, truth * 1e9, 0.05) or _within(value, truth / 1e9, 0.05):
        hint = ("단위를 맞추세요. 대역폭 GB/s는 ×1e9 바이트/초, 가중치도 바이트로 계산합니다.",
                "Match the units: GB/s is × 1e9 bytes per second, and the weights are in bytes too.")
    else:
        hint = (f"{josa(f'{value:g}', '이/가')} 아닙니다. 토큰 하나마다 가중치 전부({per_token / 1e9:.1f} GB)를 읽으니 "
                "대역폭 ÷ 가중치 바이트입니다.",
                f"Not {value:g}. Every token reads all the weights ({per_token / 1e9:.1f} GB): bandwidth ÷ bytes "
                "of weights.")
    return check(
        _within(value, truth, 0.05),
        (f"맞습니다. {bandwidth_gb_s:g} GB/s ÷ {per_token / 1e9:.1f} GB ≈ 초당 {truth:.1f}토큰이 상한입니다. "
         "실제로는 이보다 느립니다.",
         f"Right: {bandwidth_gb_s:g} GB/s ÷ {per_token / 1e9:.1f} GB ≈ {truth:.1f} tokens/s at most; real "
         "decoding is slower."),
        hint,
    )


def _values(values):
    """The exercise's values as a 1-D float tensor with at least one non-zero, finite entry."""
    import torch

    try:
        x = torch.as_tensor(values, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError):
        x = None
    if x is None or x.ndim != 1 or x.numel() == 0 or not torch.isfinite(x).all() or float(x.abs().max()) == 0:
        raise CheckArgumentError("values", f"`values` 인자는 0이 아닌 값이 하나 이상 있는 유한한 숫자들의 목록이어야 "
                                 f"합니다(받은 값: {shown(values)}).",
                                 f"`values` must be a list of finite numbers, not all zero (got {shown(values)}).")
    return x


@self_check
def quantization_absmax_by_hand(answer, values) -> CheckResult:
    """Exercise 08.4: the int8 codes of ``values`` under absmax quantization (one scale for all)."""
    import torch

    from .. import quantization

    x = _values(values)
    if answer is None:
        return not_answered("`my_codes`에 int8 코드 목록을 넣으세요.",
                            "put the list of int8 codes into `my_codes`.")
    truth = quantization.absmax_quantize(x)[0].tolist()
    given = as_int_list(answer, length=len(truth))
    absmax = float(x.abs().max())
    truncated = torch.trunc(x * (127 / absmax)).to(torch.int64).tolist()
    if given == truncated and given != truth:
        hint = ("버림(`int()`)을 썼습니다. 가장 가까운 정수로 반올림하세요 (`round`).",
                "That truncates (`int()`); round to the nearest whole number (`round`).")
    elif given and max(abs(v) for v in given) != 127:
        hint = (f"절댓값이 가장 큰 값({absmax:g})이 ±127이 되도록 배율 127 / {absmax:g}을 곱하세요.",
                f"Scale by 127 / {absmax:g}, so that the largest magnitude ({absmax:g}) becomes ±127.")
    else:
        hint = (f"{josa(given, '은/는')} 정답이 아닙니다. q = round(x × 127 / max|x|)입니다.",
                f"{given} is not it: q = round(x × 127 / max|x|).")
    return check(
        given == truth,
        (f"맞습니다. 배율은 127 / {absmax:g}, 코드는 {truth}입니다. 되돌리면 q × {absmax:g} / 127입니다.",
         f"Right: the scale is 127 / {absmax:g} and the codes are {truth}; back is q × {absmax:g} / 127."),
        hint,
    )
