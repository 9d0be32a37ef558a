"""Self-checks of notebook 04 (the transformer block): ``transformer_*``."""

from __future__ import annotations

from ..i18n import josa
from .core import (CheckArgumentError, CheckResult, as_integer, as_tensor, check, not_answered, reference,
                   reference_int, reference_model, reference_tokenizer, self_check, shown)


@self_check
def transformer_mlp_params(answer, model) -> CheckResult:
    """Exercise 04.1: the number of parameters of one layer's gated MLP, from the config."""
    reference_model(model)
    if answer is None:
        return not_answered("`n_mlp`에 층 하나의 MLP 파라미터 수를 넣으세요.",
                            "set `n_mlp` to the number of parameters of one layer's MLP.")
    value = as_integer(answer)
    mlp = model.model.layers[0].mlp
    truth = sum(p.numel() for p in mlp.parameters())
    config = model.config
    one_matrix = config.hidden_size * config.intermediate_size
    if value == one_matrix:
        return check(False, ("", ""),
                     (f"{josa(f'{value:,}', '은/는')} 행렬 하나의 크기입니다. MLP에는 gate_proj, up_proj, down_proj 세 개가 있습니다.",
                      f"{value:,} is the size of one matrix; the MLP has three: gate_proj, up_proj and down_proj."))
    return check(
        value == truth,
        (f"맞습니다. 3 × {config.hidden_size} × {config.intermediate_size} = {truth:,}개, "
         f"{config.num_hidden_layers}개 층이면 {truth * config.num_hidden_layers / 1e6:.1f} M입니다.",
         f"Right: 3 × {config.hidden_size} × {config.intermediate_size} = {truth:,}; over "
         f"{config.num_hidden_layers} layers that is {truth * config.num_hidden_layers / 1e6:.1f} M."),
        (f"{josa(f'{value:,}', '은/는')} 정답이 아닙니다. 힌트: 세 행렬의 모양을 `model.model.layers[0].mlp`에서 읽고, "
         "`config.hidden_size`와 `config.intermediate_size`로 곱해 보세요.",
         f"{value:,} is not it. Hint: read the three matrices' shapes in `model.model.layers[0].mlp`, then "
         "multiply with `config.hidden_size` and `config.intermediate_size`."),
    )


def _mlp_truth(model, inputs, layer: int, position: int):
    """The MLP's input and output of ``layer`` at ``position``, caught with a forward hook during one run."""
    import torch

    caught = {}

    def keep(module, args, output):
        caught["input"], caught["output"] = args[0].detach(), output.detach()

    handle = model.model.layers[layer].mlp.register_forward_hook(keep)
    try:
        with torch.no_grad():
            model(**inputs)
    finally:
        handle.remove()
    return caught["input"][0, position].cpu(), caught["output"][0, position].cpu()


def _close_rel(a, b, rtol: float = 1e-5) -> bool:
    """True when two tensors of the same shape agree to ``rtol`` of the larger one's scale."""
    if tuple(a.shape) != tuple(b.shape):
        return False
    scale = max(float(a.abs().max()), float(b.abs().max()), 1.0)
    return float((a - b).abs().max()) <= rtol * scale


@self_check
def transformer_mlp_by_hand(answer, model, inputs, layer: int, position: int = -1) -> CheckResult:
    """Exercise 04.2: one position's MLP output of ``layer``, computed by hand, against the library's MLP."""
    from ..transformer import check_layer

    reference_model(model)
    layer = reference(layer, "layer", lambda value: check_layer(model, value))
    if not hasattr(inputs, "keys") or "input_ids" not in inputs or getattr(inputs["input_ids"], "ndim", 0) != 2:
        raise CheckArgumentError("inputs", f"`inputs` 인자는 `tokenizer(text, return_tensors=\"pt\")`가 돌려주는 "
                                 f"딕셔너리여야 합니다(받은 값: {shown(inputs)}).",
                                 f"`inputs` must be the dict `tokenizer(text, return_tensors=\"pt\")` returns "
                                 f"(got {shown(inputs)}).")
    seq_len = inputs["input_ids"].shape[1]
    position = reference_int(position, "position", minimum=-seq_len, maximum=seq_len - 1)
    if answer is None:
        return not_answered(f"`my_mlp_out`에 층 {layer} MLP의 출력(마지막 위치)을 직접 계산해 넣으세요.",
                            f"compute layer {layer}'s MLP output at the last position into `my_mlp_out`.")
    mlp_in, truth = _mlp_truth(model, inputs, layer, position)
    mine = as_tensor(answer, shape=tuple(truth.shape))
    diff = float((mine - truth).abs().max())
    scale = float(truth.abs().max())
    if _close_rel(mine, mlp_in):
        return check(False, ("", ""),
                     ("MLP의 입력을 그대로 넣었습니다. gate_proj, up_proj, SiLU, down_proj를 거친 출력이 필요합니다.",
                      "That is the MLP's input; the output after gate_proj, up_proj, SiLU and down_proj is needed."))
    return check(
        diff <= 1e-5 * max(scale, 1.0),
        (f"맞습니다. 층 {layer} MLP의 출력과 최대 차이가 {diff:.1e}입니다 (값의 크기 {scale:.1f}).",
         f"Right: the largest difference from layer {layer}'s MLP output is {diff:.1e} (values up to {scale:.1f})."),
        (f"최대 차이가 {diff:.3g}입니다. 입력은 `post_attention_layernorm`을 거친 값(훅으로 잡은 MLP의 입력)이고, "
         "`down_proj(silu(gate_proj(x)) * up_proj(x))`입니다. 층 번호와 위치(-1)를 확인하세요.",
         f"The largest difference is {diff:.3g}. The input is the MLP's own (after `post_attention_layernorm`, caught "
         "with a hook); the output is `down_proj(silu(gate_proj(x)) * up_proj(x))`. Check the layer and the position (-1)."),
    )


_LENS_TRUTHS: dict = {}  # (model id, prompt) -> (settled layer, top token id)


@self_check
def transformer_settled_layer(answer, model, tokenizer, prompt) -> CheckResult:
    """Exercise 04.3: after how many layers the logit lens's top token at the last position is final for good.

    ``prompt`` is the learner's own (``my_prompt``), so an empty one gets a verdict, not an error.
    """
    from ..transformer import encode_prompt, logit_lens, residual_stream, settled_layer

    reference_model(model)
    reference_tokenizer(tokenizer)
    try:
        encoded = encode_prompt(tokenizer, prompt, model)
    except ValueError as err:
        ko, _, en = str(err).partition("\n")
        return check(False, ("", ""), (f"`my_prompt`를 먼저 고치세요: {ko}", f"Fix `my_prompt` first: {en or ko}"))
    if answer is None:
        return not_answered("`my_layer`에 최종 1등 토큰이 1등으로 자리 잡는 층 수를 넣으세요.",
                            "set `my_layer` to the number of layers after which the final top token stays on top.")
    value = as_integer(answer)
    key = (id(model), prompt)
    if key not in _LENS_TRUTHS:
        _, stream = residual_stream(model, encoded)
        top = logit_lens(model, stream).argmax(dim=-1)
        _LENS_TRUTHS[key] = (settled_layer(top), int(top[-1]))
    truth, top_id = _LENS_TRUTHS[key]
    n = model.config.num_hidden_layers
    word = tokenizer.decode([top_id])
    return check(
        value == truth,
        (f"맞습니다. {josa(repr(word), '은/는')} {truth}개 층을 지난 뒤부터 끝까지 1등입니다 (전체 {n}개 층).",
         f"Right: {word!r} is the top token from {truth} layers on, to the end (of {n})."),
        (f"{josa(value, '이/가')} 아닙니다. 0(임베딩)부터 {n}(마지막 층 뒤)까지 각 행의 1등 토큰을 구하고, 마지막 행의 토큰이 "
         "끝까지 이어지기 시작하는 행 번호를 찾으세요. 마지막 층의 출력에도 최종 정규화를 적용했는지 확인하세요.",
         f"Not {value}. Take the top token of every row from 0 (embeddings) to {n} (after the last layer), and find "
         "the row from which the last row's token holds to the end. Check that the last layer's output also "
         "goes through the final norm."),
    )
