"""Self-checks of notebook 00 (setup and orientation): ``setup_*``."""

from __future__ import annotations

from ..i18n import josa
from .core import (AnswerProblem, CheckResult, as_integer, as_number, as_text, check, not_answered,
                   reference_int, reference_model, reference_text, reference_tokenizer, self_check, shown, unit_slip,
                   wrong)


@self_check
def setup_parameter_count(answer, model) -> CheckResult:
    """Exercise 00.1: the number of parameters of the loaded model."""
    reference_model(model)
    if answer is None:
        return not_answered("`n_params`에 모델의 파라미터 수를 넣으세요.",
                            "set `n_params` to the model's number of parameters.")
    value = as_integer(answer)
    truth = sum(p.numel() for p in model.parameters())
    return check(
        value == truth,
        (f"맞습니다. 이 모델의 파라미터는 {truth:,}개, 약 {truth / 1e6:.1f} M입니다.",
         f"Right: this model has {truth:,} parameters, about {truth / 1e6:.1f} M."),
        wrong(answer, "힌트: `sum(p.numel() for p in model.parameters())`",
              "Hint: `sum(p.numel() for p in model.parameters())`"),
    )


_GREEDY: dict = {}  # (model id, tokenizer id, prompt, n) -> the ids greedy decoding adds after the prompt
_LOOK_FURTHER = 32  # tokens generated beyond the limit, to count the tokens of a too-long answer


def _greedy_new_ids(model, tokenizer, prompt: str, n: int) -> list[int]:
    """The ids ``generate(do_sample=False)`` adds after ``prompt``, at most ``n`` (computed once per setting)."""
    from ..generation import continue_prompt  # imports torch: only when a check runs

    key = (id(model), id(tokenizer), prompt, n)
    if key not in _GREEDY:
        _GREEDY[key] = continue_prompt(model, tokenizer, prompt, max_new_tokens=n, do_sample=False).tolist()
    return _GREEDY[key]


@self_check
def setup_new_tokens(answer, prompt: str, model, tokenizer, limit: int) -> CheckResult:
    """Exercise 00.2: the pipeline's ``generated_text`` after ``prompt``, with at most ``limit`` new tokens.

    The check reads tokens, not the typed text: it lets the model generate
    greedily after ``prompt`` (as the exercise asks, ``do_sample=False``) and
    finds how many of those tokens the answer holds, the way the pipeline
    writes them (the prompt, then the new tokens decoded). A text the model
    did not generate, or one with more than ``limit`` new tokens, is wrong.
    """
    reference_text(prompt, "prompt")
    reference_model(model)
    reference_tokenizer(tokenizer)
    limit = reference_int(limit, "limit", minimum=1)
    if answer is None:
        return not_answered("생성 결과 문자열을 `my_text`에 넣으세요.",
                            "put the generated string into `my_text`.")
    text = as_text(answer, ("`result[0][\"generated_text\"]`처럼 글만 꺼내 넣으세요.",
                            "Take the text out: `result[0][\"generated_text\"]`."))
    if not text.startswith(prompt):
        raise AnswerProblem("생성된 글이 프롬프트로 시작하지 않습니다. 파이프라인의 `generated_text`를 그대로 넣으세요.",
                            "The text does not start with the prompt; use the pipeline's `generated_text` as it is.")
    if text == prompt:
        raise AnswerProblem("프롬프트만 있고 새 토큰이 없습니다. `max_new_tokens`를 1 이상으로 두고 생성하세요.",
                            "That is the prompt alone, with no new token: generate with `max_new_tokens` of at least 1.")
    new_ids = _greedy_new_ids(model, tokenizer, prompt, limit + _LOOK_FURTHER)
    n_new = next((k for k in range(1, len(new_ids) + 1)
                  if prompt + tokenizer.decode(new_ids[:k], skip_special_tokens=True) == text), None)
    longest = prompt + tokenizer.decode(new_ids, skip_special_tokens=True)
    if n_new is None and len(new_ids) == limit + _LOOK_FURTHER and text.startswith(longest):
        n_new = len(new_ids) + 1  # more than we generated: certainly over the limit
    if n_new is None:
        return check(False, ("", ""),
                     ("모델이 이 프롬프트 뒤에 생성하는 토큰과 다릅니다. 위의 셀들처럼 `do_sample=False`로 생성하고, "
                      "파이프라인의 `generated_text`를 고치지 말고 그대로 넣으세요.",
                      "This is not what the model generates after the prompt. Generate with `do_sample=False`, as the "
                      "cells above do, and put the pipeline's `generated_text` in unchanged."))
    if n_new > len(new_ids):
        count = (f"새 토큰이 {len(new_ids)}개보다 많습니다.", f"More than {len(new_ids)} new tokens.")
    else:
        count = (f"새 토큰이 {n_new}개입니다.", f"{n_new} new tokens.")
    return check(
        n_new <= limit,
        (f"좋습니다. 모델이 생성한 새 토큰 {n_new}개가 들어 있습니다 (한도 {limit}개).",
         f"Good: the text holds {n_new} new tokens the model generated (limit {limit})."),
        (f"{count[0]} `max_new_tokens={limit}`로 다시 생성해 보세요.",
         f"{count[1]} Generate again with `max_new_tokens={limit}`."),
    )


@self_check
def setup_model_memory(answer_mb, model) -> CheckResult:
    """Exercise 00.3: the model's weight memory in megabytes (float32: 4 bytes per parameter)."""
    reference_model(model)
    if answer_mb is None:
        return not_answered("`weights_mb`에 가중치 메모리(MB)를 계산해 넣으세요.",
                            "compute the weights' memory in MB into `weights_mb`.")
    value = as_number(answer_mb, unit="MB")
    n_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
    truth = n_bytes / 1e6
    hint = unit_slip(value, n_bytes, "MB") or ("float32 파라미터 하나는 4바이트, 1 MB는 10⁶ 바이트입니다.",
                                               "One float32 parameter takes 4 bytes; 1 MB is 10⁶ bytes.")
    return check(
        abs(value - truth) <= 0.01 * truth,
        (f"맞습니다. 약 {truth:.0f} MB입니다 (파라미터 수 × 4바이트).",
         f"Right: about {truth:.0f} MB (parameters × 4 bytes)."),
        (f"{josa(shown(answer_mb), '은/는')} {truth:.0f} MB와 다릅니다. {hint[0]}",
         f"{shown(answer_mb)} differs from {truth:.0f} MB. {hint[1]}"),
    )
