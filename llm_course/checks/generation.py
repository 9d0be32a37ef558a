"""Self-checks of notebook 05 (generation and its pitfalls): ``generation_*``."""

from __future__ import annotations

from ..i18n import josa
from .core import (AnswerProblem, CheckResult, as_integer, as_text, check, not_answered, reference, reference_int,
                   reference_model, reference_tensor, reference_texts, reference_tokenizer, self_check, shown)


@self_check
def generation_new_text(answer, output_ids, input_length: int, tokenizer) -> CheckResult:
    """Exercise 05.1: decode only the tokens ``generate`` added after the prompt."""
    reference_tensor(output_ids, "output_ids", ndim=2)
    input_length = reference_int(input_length, "input_length", minimum=0, maximum=output_ids.shape[1])
    reference_tokenizer(tokenizer)
    if answer is None:
        return not_answered("`new_text`에 새로 생성된 부분만 디코딩해 넣으세요.",
                            "decode only the newly generated part into `new_text`.")
    answer = as_text(answer, ("`tokenizer.decode(...)`의 결과를 넣으세요.", "Put in the result of `tokenizer.decode(...)`."))
    new_ids = output_ids[0, input_length:]
    accepted = {tokenizer.decode(new_ids, skip_special_tokens=True), tokenizer.decode(new_ids)}
    whole = tokenizer.decode(output_ids[0], skip_special_tokens=True)
    if answer not in accepted and answer.strip() == whole.strip():
        raise AnswerProblem("프롬프트까지 들어 있습니다. 디코더 모델의 출력은 프롬프트로 시작하니 "
                            "`output_ids[0, input_length:]`처럼 입력 길이 뒤부터 잘라 디코딩하세요.",
                            "It still contains the prompt: a decoder's output starts with the prompt, so slice "
                            "from the input length, `output_ids[0, input_length:]`, before decoding.")
    return check(
        answer in accepted,
        (f"맞습니다. 새로 생성된 부분은 {answer!r}입니다.", f"Right: the new part is {answer!r}."),
        (f"{josa(shown(answer), '은/는')} 새 토큰만 디코딩한 결과와 다릅니다. 힌트: `tokenizer.decode(output_ids[0, input_length:], "
         "skip_special_tokens=True)`",
         f"{shown(answer)} is not the new tokens decoded. Hint: `tokenizer.decode(output_ids[0, input_length:], "
         "skip_special_tokens=True)`"),
    )


def _finite_count(scores) -> int:
    """Number of tokens a logits processor left in play (not set to -inf)."""
    import torch

    return int(torch.isfinite(scores).sum())


@self_check
def generation_top_p_count(answer, logits, top_p: float) -> CheckResult:
    """Exercise 05.2: how many tokens top-p keeps for one next-token distribution (``logits``: 1-D)."""
    from transformers import TopPLogitsWarper

    from ..generation import check_top_p

    reference_tensor(logits, "logits")
    top_p = reference(top_p, "top_p", check_top_p)
    if answer is None:
        return not_answered(f"`n_kept`에 top_p={top_p}가 남기는 토큰 수를 넣으세요.",
                            f"put the number of tokens top_p={top_p} keeps into `n_kept`.")
    value = as_integer(answer)
    kept = TopPLogitsWarper(top_p=top_p)(None, logits.reshape(1, -1).float())
    truth = _finite_count(kept)
    return check(
        value == truth,
        (f"맞습니다. top_p={top_p}는 어휘 {logits.numel():,}개 중 {truth}개만 남깁니다.",
         f"Right: top_p={top_p} keeps {truth} of the {logits.numel():,} tokens."),
        (f"{josa(shown(answer), '이/가')} 아닙니다. 확률을 큰 순서로 정렬해 누적합을 구하고, 누적합이 {top_p}에 닿는 토큰까지 셉니다"
         "(그 토큰도 포함).",
         f"Not {shown(answer)}. Sort the probabilities from largest, take the running sum, and count up to and "
         f"including the token where it reaches {top_p}."),
    )


@self_check
def generation_batched_left_padding(answer, prompts: list[str], model, tokenizer, max_new_tokens: int) -> CheckResult:
    """Exercise 05.3: one batched greedy call whose new texts equal generating each prompt alone."""
    import torch

    from ..generation import check_max_new_tokens

    prompts = reference_texts(prompts, "prompts")
    reference_model(model)
    reference_tokenizer(tokenizer)
    max_new_tokens = reference(max_new_tokens, "max_new_tokens", check_max_new_tokens)
    if answer is None:
        return not_answered("`batch_texts`에 프롬프트별 새 텍스트 목록을 넣으세요.",
                            "put the list of new texts, one per prompt, into `batch_texts`.")
    if (not isinstance(answer, (list, tuple)) or len(answer) != len(prompts)
            or not all(isinstance(a, str) for a in answer)):
        raise AnswerProblem(f"프롬프트 {len(prompts)}개에 하나씩, 문자열 목록이어야 합니다.",
                            f"It must be a list of strings, one for each of the {len(prompts)} prompts.")
    alone = []
    for prompt in prompts:
        enc = tokenizer(prompt, return_tensors="pt").to(model.device)
        with torch.no_grad():
            out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False)
        alone.append(tokenizer.decode(out[0, enc["input_ids"].shape[1]:], skip_special_tokens=True))
    wrong = [i for i, (a, b) in enumerate(zip(answer, alone)) if a != b]
    return check(
        not wrong,
        ("맞습니다. 한 번의 배치 호출이 프롬프트를 하나씩 생성한 것과 똑같습니다.",
         "Right: the one batched call gives exactly what generating each prompt alone gives."),
        (f"{wrong}번 프롬프트의 결과가 혼자 생성한 것과 다릅니다. `tokenizer.padding_side = \"left\"`, "
         "`attention_mask` 전달, 패딩을 포함한 입력 길이 뒤부터 디코딩을 확인하세요.",
         f"Prompt(s) {wrong} differ from generating alone. Check `tokenizer.padding_side = \"left\"`, passing "
         "the `attention_mask`, and decoding after the padded input length."),
    )
