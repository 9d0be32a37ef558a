"""Self-checks of notebook 03 (attention): ``attention_*``."""

from __future__ import annotations

from ..i18n import josa
from .core import (AnswerProblem, CheckArgumentError, CheckResult, as_int_list, as_integer, as_tensor, check,
                   not_answered, reference_int, reference_model, reference_tensor, reference_text,
                   reference_tokenizer, self_check, type_en, type_ko, wrong)


@self_check
def attention_kv_head(answer, model, head: int) -> CheckResult:
    """Exercise 03.1: which key/value head a query head reads under grouped-query attention."""
    reference_model(model)
    head = reference_int(head, "head", minimum=0, maximum=model.config.num_attention_heads - 1)
    if answer is None:
        return not_answered(f"`kv_head`에 쿼리 헤드 {head}번이 쓰는 키 헤드 번호를 넣으세요.",
                            f"set `kv_head` to the key head that query head {head} uses.")
    value = as_integer(answer)
    group = model.config.num_attention_heads // model.config.num_key_value_heads
    truth = head // group
    return check(
        value == truth,
        (f"맞습니다. 쿼리 헤드 {group}개가 키 헤드 하나를 나눠 쓰므로 헤드 {head}번은 키 헤드 {truth}번을 씁니다.",
         f"Right: {group} query heads share one key head, so head {head} uses key head {truth}."),
        wrong(answer, f"힌트: 그룹 크기는 num_attention_heads // num_key_value_heads = {group}입니다.",
              f"Hint: the group size is num_attention_heads // num_key_value_heads = {group}."),
    )


@self_check
def attention_previous_token_head(answer, attentions) -> CheckResult:
    """Exercise 03.2: ``(layer, head)`` of the head that attends most to the previous token."""
    from ..attention import best_head, diagonal_scores

    reference_tensor(attentions, "attentions", ndim=4)  # (num_layers, num_heads, seq_len, seq_len)
    if attentions.shape[-1] < 2:
        raise CheckArgumentError("attentions", "`attentions` 인자의 글이 너무 짧습니다. 토큰이 두 개 이상 필요합니다.",
                                 "`attentions` comes from a text too short for this score: at least two tokens.")
    if answer is None:
        return not_answered("`prev_head`에 (층, 헤드) 튜플을 넣으세요.",
                            "set `prev_head` to a (layer, head) tuple.")
    scores = diagonal_scores(attentions, offset=-1)
    layers, heads = scores.shape
    layer, head = as_int_list(answer, length=2)
    if not (0 <= layer < layers and 0 <= head < heads):
        raise AnswerProblem(f"({layer}, {head})는 범위를 벗어났습니다. 층 0-{layers - 1}, 헤드 0-{heads - 1}.",
                            f"({layer}, {head}) is out of range: layers 0-{layers - 1}, heads 0-{heads - 1}.")
    truth = best_head(scores)
    best, mine = float(scores[truth]), float(scores[layer, head])
    return check(
        (layer, head) == truth,
        (f"맞습니다. 층 {truth[0]}의 헤드 {truth[1]}번은 바로 앞 토큰에 평균 {best:.2f}의 가중치를 줍니다.",
         f"Right: layer {truth[0]}, head {truth[1]} puts {best:.2f} of its weight on the previous token on average."),
        (f"({layer}, {head})의 점수는 {mine:.2f}이지만 더 높은 헤드가 있습니다. 모든 (층, 헤드)의 점수에서 argmax를 찾으세요.",
         f"({layer}, {head}) scores {mine:.2f}, but another head scores higher. Take the argmax over every (layer, head)."),
    )


_SECOND_SENTENCE = "A quiet river runs past the old mill, and the children follow it home."


def _run_learner_function(answer, model, hidden_states, layer: int, head: int):
    """Call the learner's ``answer(hidden_states, layer, head)``, refusing a call to the model or its attention.

    Whatever the learner's function raises is the answer's problem (an AnswerProblem).
    """
    import torch

    from .. import attention as lesson

    used = []
    layers = [(f"어텐션 층 layers[{i}].self_attn", f"the attention layer layers[{i}].self_attn", blk.self_attn)
              for i, blk in enumerate(model.model.layers)]
    hooks = [m.register_forward_pre_hook(lambda m, a, names=(ko, en): used.append(names))
             for ko, en, m in [("모델", "the model", model)] + layers]
    original = lesson.head_by_hand
    lesson.head_by_hand = lambda *a, **k: (used.append(("`attention.head_by_hand`", "`attention.head_by_hand`"))
                                           or original(*a, **k))
    try:
        with torch.no_grad():
            mine = answer(hidden_states, layer, head)
    except Exception as err:  # noqa: BLE001 - the learner's function failed: a verdict, not a crash
        raise AnswerProblem(f"`my_head_weights`를 실행하다가 오류가 났습니다: {type(err).__name__}: {err}",
                            f"`my_head_weights` raised an error: {type(err).__name__}: {err}") from None
    finally:
        lesson.head_by_hand = original
        for h in hooks:
            h.remove()
    if used:
        ko, en = used[0]
        raise AnswerProblem(f"함수 안에서 {josa(ko, '을/를')} 불렀습니다. 모델이나 어텐션 층, `attention.head_by_hand` 없이 "
                            "q_proj, k_proj, RoPE, 마스크, 소프트맥스로 직접 계산하세요.",
                            f"The function called {en}. Compute the head yourself from q_proj, k_proj, RoPE, "
                            "the mask and softmax, without the model, its attention layers or `attention.head_by_hand`.")
    return mine


@self_check
def attention_head_by_hand(answer, model, tokenizer, text: str, layer: int, head: int) -> CheckResult:
    """Exercise 03.3: a function ``(hidden_states, layer, head) -> (seq_len, seq_len) weights`` computed by hand.

    The check calls it on ``text`` at ``(layer, head)`` and on a second sentence
    at another head, and compares both with the model's own weights. Calling the
    model, its attention layers or ``attention.head_by_hand`` inside the function
    does not count: the exercise is to compute the head yourself.
    """
    import torch

    reference_model(model)
    if getattr(model.config, "_attn_implementation", "eager") != "eager":
        raise CheckArgumentError("model", "`model` 인자는 어텐션 가중치를 돌려주도록 "
                                 "`models.load_model(attn_implementation=\"eager\")`로 불러온 모델이어야 합니다.",
                                 "`model` must be loaded with `models.load_model(attn_implementation=\"eager\")`, "
                                 "so that it returns attention weights.")
    reference_tokenizer(tokenizer)
    reference_text(text, "text")
    n_layers, n_heads = model.config.num_hidden_layers, model.config.num_attention_heads
    layer = reference_int(layer, "layer", minimum=0, maximum=n_layers - 1)
    head = reference_int(head, "head", minimum=0, maximum=n_heads - 1)
    if answer is None:
        return not_answered(f"`my_head_weights(hidden_states, layer, head)` 함수를 완성하세요 (층 {layer}, 헤드 {head}로 확인).",
                            f"complete the function `my_head_weights(hidden_states, layer, head)` (checked at layer {layer}, head {head}).")
    if not callable(answer):
        raise AnswerProblem(f"함수가 필요한데 {josa(type_ko(answer), '이/가')} 들어왔습니다. `def my_head_weights(hidden_states, "
                            "layer, head):`로 정의한 함수 이름을 넘기세요. 모델의 `attentions`를 그대로 넘기면 안 됩니다.",
                            f"A function is needed, got {type_en(answer)}. Pass the function you defined with "
                            "`def my_head_weights(hidden_states, layer, head):`, not the model's `attentions`.")
    cases = [(text, layer, head), (_SECOND_SENTENCE, (layer + 7) % n_layers, (head + 4) % n_heads)]
    for sentence, lay, hd in cases:
        encoded = tokenizer(sentence, return_tensors="pt").to(model.device)
        with torch.no_grad():
            out = model(**encoded, output_attentions=True, output_hidden_states=True)
        truth = out.attentions[lay][0, hd].float().cpu()
        mine = _run_learner_function(answer, model, out.hidden_states, lay, hd)
        if mine is None:
            return not_answered("`my_head_weights`가 아직 None을 돌려줍니다.", "`my_head_weights` still returns None.")
        mine = as_tensor(mine, shape=tuple(truth.shape))
        diff = float((mine - truth).abs().max())
        if diff >= 1e-4:
            where_ko = "두 번째 문장" if sentence != text else "노트북의 문장"
            where_en = "a second sentence" if sentence != text else "the notebook's sentence"
            return check(False, ("", ""),
                         (f"{where_ko}(층 {lay}, 헤드 {hd})에서 모델과의 최대 차이가 {diff:.3f}입니다. "
                          "키 헤드 번호(GQA), RoPE, 마스크를 확인하세요.",
                          f"On {where_en} (layer {lay}, head {hd}) the largest difference from the model is {diff:.3f}. "
                          "Check the key head (GQA), RoPE and the mask."))
    return check(True, (f"맞습니다. 노트북의 문장(층 {layer}, 헤드 {head})과 처음 보는 문장(층 {cases[1][1]}, 헤드 "
                        f"{cases[1][2]}) 모두에서 모델의 가중치와 일치합니다.",
                        f"Right: it matches the model's weights on the notebook's sentence (layer {layer}, head {head}) "
                        f"and on a sentence it had not seen (layer {cases[1][1]}, head {cases[1][2]})."), ("", ""))
