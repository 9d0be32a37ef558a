"""Self-checks of notebook 09 (fine-tuning): ``finetune_*``."""

from __future__ import annotations

import math

from ..i18n import josa
from .core import (AnswerProblem, CheckArgumentError, CheckResult, as_int_list, as_integer, as_number, check,
                   not_answered, reference, reference_int, reference_int_list, reference_model, reference_number,
                   self_check, shown, unit_slip)


def _blocks_of(answer):
    """A list of blocks (lists of ints) from a list of lists, or from group_texts' dict via its "input_ids"."""
    if isinstance(answer, dict):
        if "input_ids" not in answer:
            raise AnswerProblem("딕셔너리라면 \"input_ids\" 열이 있어야 합니다.",
                                "A dict answer needs an \"input_ids\" column.")
        answer = answer["input_ids"]
    if hasattr(answer, "tolist") and hasattr(answer, "shape"):
        answer = answer.tolist()
    if not isinstance(answer, (list, tuple)) or not all(isinstance(b, (list, tuple)) for b in answer):
        raise AnswerProblem("블록의 목록이 필요합니다. 예: [[11, 12, 13, 21], [22, 23, 24, 25]]",
                            "A list of blocks is needed, for example [[11, 12, 13, 21], [22, 23, 24, 25]].")
    return [as_int_list(list(b)) for b in answer]


@self_check
def finetune_group_texts(answer, examples, block_size: int) -> CheckResult:
    """Exercise 09.1: the input_ids blocks that ``group_texts`` makes of a toy batch."""
    from ..finetune import check_block_size, group_texts

    rows = examples.get("input_ids") if isinstance(examples, dict) else None
    if not isinstance(rows, list) or not rows:
        raise CheckArgumentError("examples", f"`examples` 인자는 \"input_ids\" 열(토큰 ID 목록들의 목록)이 있는 "
                                 f"딕셔너리여야 합니다(받은 값: {shown(examples)}).",
                                 f"`examples` must be a dict with an \"input_ids\" column, a list of token id lists "
                                 f"(got {shown(examples)}).")
    rows = [reference_int_list(row, "examples[\"input_ids\"]") for row in rows]
    block_size = reference(block_size, "block_size", check_block_size)
    if answer is None:
        return not_answered("`my_blocks`에 블록 목록을 넣으세요.", "put the list of blocks into `my_blocks`.")
    truth = group_texts({"input_ids": rows}, block_size)["input_ids"]
    mine = _blocks_of(answer)
    if mine == truth:
        total = sum(len(r) for r in rows)
        return check(True, (f"맞습니다. {total}토큰을 이어 붙여 {block_size}개씩 {len(truth)}블록을 만들고, "
                            f"나머지 {total - len(truth) * block_size}토큰은 버립니다.",
                            f"Right: {total} tokens joined, cut into {len(truth)} blocks of {block_size}, "
                            f"and the remaining {total - len(truth) * block_size} dropped."), ("", ""))
    stream = [t for row in rows for t in row]
    with_rest = [stream[i: i + block_size] for i in range(0, len(stream), block_size)]
    per_row = [row[i: i + block_size] for row in rows for i in range(0, len(row), block_size)]
    if mine == with_rest:
        hint = ("마지막의 짧은 블록까지 넣었습니다. 블록 하나가 안 되는 나머지는 버립니다.",
                "The short last block is included: the remainder shorter than one block is dropped.")
    elif mine == per_row or any(len(b) != block_size for b in mine):
        hint = (f"모든 블록은 정확히 {block_size}토큰입니다. 줄마다 자르지 말고, 모든 줄을 먼저 하나로 이어 붙인 뒤 자르세요.",
                f"Every block has exactly {block_size} tokens: join all rows into one stream first, then cut it.")
    else:
        hint = ("순서를 확인하세요. 줄을 차례대로 이어 붙이고, 앞에서부터 block_size씩 자릅니다.",
                "Check the order: join the rows as they come, then cut from the start, block_size at a time.")
    return check(False, ("", ""), hint)


@self_check
def finetune_perplexity_from_loss(answer, loss: float) -> CheckResult:
    """Exercise 09.2: perplexity = exp(mean cross-entropy)."""
    loss = reference_number(loss, "loss")
    if answer is None:
        return not_answered("`my_perplexity`에 퍼플렉서티를 넣으세요.", "put the perplexity into `my_perplexity`.")
    value = as_number(answer)
    truth = math.exp(loss)
    if math.isclose(value, truth, rel_tol=1e-3):
        return check(True, (f"맞습니다. exp({loss:g}) = {truth:.3f}: 토큰마다 평균 {truth:.1f}개 후보 사이에서 망설이는 셈입니다.",
                            f"Right: exp({loss:g}) = {truth:.3f}, as if hesitating between {truth:.1f} candidates "
                            "per token."), ("", ""))
    if math.isclose(value, 2 ** loss, rel_tol=1e-3):
        hint = ("2의 거듭제곱을 썼습니다. transformers의 손실은 자연로그(nat) 단위이므로 `math.exp`를 씁니다.",
                "That is 2 to the power: transformers' loss is in nats (natural log), so use `math.exp`.")
    elif math.isclose(value, loss, rel_tol=1e-3):
        hint = ("손실 그대로입니다. 퍼플렉서티는 손실의 지수, exp(loss)입니다.",
                "That is the loss itself; perplexity is its exponential, exp(loss).")
    else:
        hint = (f"{josa(shown(answer), '은/는')} 아닙니다. 힌트: `math.exp(eval_loss)`",
                f"{shown(answer)} is not it. Hint: `math.exp(eval_loss)`")
    return check(False, ("", ""), hint)


@self_check
def finetune_lora_count(answer, model, r: int, target_modules) -> CheckResult:
    """Exercise 09.3: parameters LoRA of rank ``r`` adds on ``target_modules`` (formula over the model's linear layers)."""
    from ..finetune import _linear_layers, lora_parameter_count

    reference_model(model)
    r = reference_int(r, "r", minimum=1)
    truth = reference(target_modules, "target_modules", lambda names: lora_parameter_count(model, r=r,
                                                                                         target_modules=names))
    if answer is None:
        return not_answered("`my_lora_count`에 LoRA 파라미터 수를 넣으세요.",
                            "put the number of LoRA parameters into `my_lora_count`.")
    value = as_integer(answer)
    layers = list(_linear_layers(model, target_modules))
    if value == truth:
        return check(True, (f"맞습니다. 선형 층 {len(layers)}개에 r × (입력 + 출력)씩, 모두 {truth:,}개입니다.",
                            f"Right: r × (in + out) for each of {len(layers)} linear layers, {truth:,} in all."),
                     ("", ""))
    n_layers = getattr(getattr(model, "config", None), "num_hidden_layers", 1) or 1
    full_matrices = sum(n_in * n_out for _, n_in, n_out in layers)
    if value * n_layers == truth:
        hint = (f"층 하나만 셌습니다. 모델에는 층이 {n_layers}개 있습니다.",
                f"That is one layer; the model has {n_layers} of them.")
    elif value == full_matrices or value == r * full_matrices:
        hint = ("LoRA는 출력 × 입력 행렬을 학습하지 않습니다. A는 r × 입력, B는 출력 × r이므로 r × (입력 + 출력)입니다.",
                "LoRA does not train an out × in matrix: A is r × in and B is out × r, so r × (in + out).")
    elif value * 2 == truth or value == 2 * truth:
        hint = ("A와 B 두 행렬을 모두, 그리고 대상 층(q_proj, v_proj) 두 종류를 모두 셌는지 확인하세요.",
                "Check that you counted both matrices A and B, and both kinds of target layer (q_proj, v_proj).")
    else:
        hint = ("v_proj는 q_proj와 크기가 다릅니다(키·값 헤드가 적은 GQA). 층마다 r × (in_features + out_features)를 더하세요.",
                "v_proj is smaller than q_proj (fewer key/value heads, GQA): add r × (in_features + out_features) per layer.")
    return check(False, ("", ""), hint)


@self_check
def finetune_completion_labels(answer, full_ids, prompt_ids) -> CheckResult:
    """Exercise 09.4: labels with -100 on the prompt's positions and the token ids on the answer's."""
    full_ids = reference_int_list(full_ids, "full_ids")
    prompt_ids = reference_int_list(prompt_ids, "prompt_ids")
    if not prompt_ids or full_ids[: len(prompt_ids)] != prompt_ids or len(full_ids) == len(prompt_ids):
        raise CheckArgumentError("full_ids", "`full_ids`는 `prompt_ids`로 시작하고 그보다 길어야 합니다(답 토큰이 뒤에 옵니다).",
                                 "`full_ids` must start with `prompt_ids` and be longer (the answer's tokens follow).")
    if answer is None:
        return not_answered("`my_labels`에 labels 목록을 넣으세요.", "put the list of labels into `my_labels`.")
    mine = as_int_list(answer)
    n = len(prompt_ids)
    truth = [-100] * n + full_ids[n:]
    if mine == truth:
        return check(True, (f"맞습니다. 프롬프트 {n}토큰은 -100, 답 {len(full_ids) - n}토큰만 손실에 들어갑니다.",
                            f"Right: the {n} prompt tokens are -100; only the {len(full_ids) - n} answer tokens count."),
                     ("", ""))
    if len(mine) != len(full_ids):
        hint = (f"길이가 {len(full_ids)}여야 하는데 {len(mine)}입니다. labels는 input_ids와 길이가 같습니다.",
                f"The length must be {len(full_ids)}, not {len(mine)}: labels are as long as input_ids.")
    elif mine == full_ids[:n] + [-100] * (len(full_ids) - n):
        hint = ("반대로 가렸습니다. 프롬프트 자리가 -100이고 답 자리가 토큰 ID입니다.",
                "Masked the wrong part: the prompt's positions are -100, the answer's keep their ids.")
    elif mine in ([-100] * (n - 1) + full_ids[n - 1:], [-100] * (n + 1) + full_ids[n + 1:]):
        hint = ("한 칸 어긋났습니다. 한 칸 밀기는 모델이 하니, 정확히 len(prompt_ids)개만 -100으로 만드세요.",
                "Off by one: the model does the shift, so make exactly len(prompt_ids) positions -100.")
    elif mine == [0] * n + full_ids[n:]:
        hint = ("0은 진짜 토큰 ID입니다. 손실에서 빼려면 -100을 씁니다.",
                "0 is a real token id; -100 is what the loss skips.")
    else:
        hint = ("`[-100] * len(prompt_ids) + full_ids[len(prompt_ids):]`의 모양을 생각해 보세요.",
                "Think of the shape `[-100] * len(prompt_ids) + full_ids[len(prompt_ids):]`.")
    return check(False, ("", ""), hint)


@self_check
def finetune_training_memory(answer_gb, n_params: int) -> CheckResult:
    """Exercise 09.5: weights + gradients + AdamW states in float32 (16 bytes per parameter), in GB."""
    n_params = reference_int(n_params, "n_params", minimum=1)
    if answer_gb is None:
        return not_answered("`my_gb`에 메모리(GB)를 넣으세요.", "put the memory in GB into `my_gb`.")
    value = as_number(answer_gb, unit="GB")
    truth = 16 * n_params / 1e9
    if math.isclose(value, truth, rel_tol=0.01):
        return check(True, (f"맞습니다. 16바이트 × {n_params:,} = {truth:.2f} GB, 활성값은 따로입니다.",
                            f"Right: 16 bytes × {n_params:,} = {truth:.2f} GB, activations extra."), ("", ""))
    for per_param, ko, en in [(4, "가중치만", "weights only"), (8, "가중치와 기울기만", "weights and gradients only"),
                              (12, "Adam 상태를 한 값만", "only one of Adam's two values")]:
        if math.isclose(value, per_param * n_params / 1e9, rel_tol=0.01):
            return check(False, ("", ""), (f"{ko} 셌습니다. 가중치 4 + 기울기 4 + Adam 두 값 8 = 16바이트입니다.",
                                           f"That counts {en}: weight 4 + gradient 4 + Adam's two values 8 = 16 bytes."))
    hint = unit_slip(value, 16 * n_params, "GB") or ("파라미터당 16바이트, 1 GB = 10⁹ 바이트입니다.",
                                                     "16 bytes per parameter, 1 GB = 10⁹ bytes.")
    return check(False, ("", ""), (f"{josa(shown(answer_gb), '은/는')} 아닙니다. {hint[0]}",
                                   f"{shown(answer_gb)} is not it. {hint[1]}"))
