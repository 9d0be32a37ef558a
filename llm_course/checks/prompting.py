"""Self-checks of notebook 06 (prompting and in-context learning): ``prompting_*``."""

from __future__ import annotations

import math

from ..i18n import josa
from .core import (CheckArgumentError, CheckResult, as_fraction, as_integer, check, not_answered, reference_int,
                   reference_model, reference_text, reference_tokenizer, self_check, shown, wrong)


@self_check
def prompting_token_count(answer, prompt: str, tokenizer, context_window: int) -> CheckResult:
    """Exercise 06.1: the number of tokens of ``prompt`` (as the model reads it)."""
    reference_text(prompt, "prompt")
    reference_tokenizer(tokenizer)
    context_window = reference_int(context_window, "context_window", minimum=1)
    if answer is None:
        return not_answered("`n_tokens`에 프롬프트의 토큰 수를 넣으세요.",
                            "set `n_tokens` to the prompt's number of tokens.")
    value = as_integer(answer)
    truth = len(tokenizer(prompt)["input_ids"])
    share = truth / context_window
    hint = ("힌트: `len(tokenizer(prompt)[\"input_ids\"])` (글자 수가 아닙니다).",
            "Hint: `len(tokenizer(prompt)[\"input_ids\"])` (tokens, not characters).")
    if value == len(prompt):
        hint = ("글자 수를 셌습니다. 토큰 수는 `len(tokenizer(prompt)[\"input_ids\"])`입니다.",
                "That counts characters; the tokens are `len(tokenizer(prompt)[\"input_ids\"])`.")
    return check(
        value == truth,
        (f"맞습니다. {truth}토큰으로, 문맥 창 {context_window:,}토큰의 {share:.1%}입니다.",
         f"Right: {truth} tokens, {share:.1%} of the {context_window:,}-token context window."),
        wrong(answer, *hint),
    )


def _reviews(value, name: str) -> list:
    """A non-empty list of labelled reviews (``prompting.load_reviews()``'s ``Review`` objects)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) or not value \
            or not all(hasattr(r, "text") and hasattr(r, "label") for r in value):
        raise CheckArgumentError(name, f"`{name}` 인자는 `prompting.load_reviews()`의 리뷰들로 된 목록이어야 합니다"
                                 f"(받은 값: {shown(value)}).",
                                 f"`{name}` must be a non-empty list of reviews from `prompting.load_reviews()` "
                                 f"(got {shown(value)}).")
    return list(value)


def _reference_task(model, tokenizer, shots, test) -> tuple[list, list]:
    reference_model(model)
    reference_tokenizer(tokenizer)
    shots, test = _reviews(shots, "shots"), _reviews(test, "test")
    if len([s for s in shots if s.label == "negative"]) < 2 or len(shots) < 4:
        raise CheckArgumentError("shots", "`shots` 인자에는 예시가 4개 이상, 그중 'negative'가 2개 이상 있어야 합니다.",
                                 "`shots` needs at least 4 examples, 2 of them 'negative'.")
    return shots, test


_PROMPTING_TRUTHS: dict = {}  # (exercise, model, tokenizer, reviews) -> recomputed answer


def _share_positive(model, tokenizer, shots_used, test, key) -> float:
    from ..prompting import classify, few_shot_prompt

    if key not in _PROMPTING_TRUTHS:
        predictions = classify(model, tokenizer, [few_shot_prompt(r.text, list(shots_used)) for r in test])
        _PROMPTING_TRUTHS[key] = sum(p == "positive" for p in predictions) / len(predictions)
    return _PROMPTING_TRUTHS[key]


def _label_words_truth(model, tokenizer, shots, test) -> float:
    from ..prompting import accuracy, classify, few_shot_prompt

    key = ("06.3", id(model), id(tokenizer), tuple(shots), tuple(test))
    if key not in _PROMPTING_TRUTHS:
        names = {"positive": "good", "negative": "bad"}
        prompts = [few_shot_prompt(r.text, shots[:4], label_names=names) for r in test]
        predictions = classify(model, tokenizer, prompts, label_words=(" good", " bad"))
        _PROMPTING_TRUTHS[key] = accuracy(predictions, [r.label for r in test])
    return _PROMPTING_TRUTHS[key]


@self_check
def prompting_negative_shots(answer, model, tokenizer, shots, test) -> CheckResult:
    """Exercise 06.2: share of test reviews predicted positive after two negative shots.

    The verdict compares the measured share with zero-shot and with the one
    positive shot of section 5, and says in words what this run shows.
    """
    shots, test = _reference_task(model, tokenizer, shots, test)
    if answer is None:
        return not_answered("`share_positive`에 '긍정'으로 예측된 비율(0~1)을 넣으세요.",
                            "set `share_positive` to the share predicted positive (0 to 1).")
    value = as_fraction(answer)
    base = (id(model), id(tokenizer), tuple(shots), tuple(test))
    negatives = [s for s in shots if s.label == "negative"][:2]
    truth = _share_positive(model, tokenizer, negatives, test, ("06.2",) + base)
    zero = _share_positive(model, tokenizer, [], test, ("0-shot",) + base)
    one = _share_positive(model, tokenizer, shots[:1], test, ("1-shot",) + base)
    noise = 2 * math.sqrt(max(zero * (1 - zero), 0.25 / len(test)) / len(test))  # two standard errors
    if truth < zero - noise:
        verdict = ("부정 예시가 답을 '부정' 쪽으로 끌어당겼습니다. 레이블 편향은 양쪽으로 작동합니다.",
                   "The negative shots pulled the answers towards negative: label bias works both ways.")
    elif truth <= zero + noise:
        verdict = ("제로샷과의 차이가 잡음 범위(표준오차 두 배) 안입니다. 이 모델은 긍정 예시 하나에는 크게 끌려갔지만, "
                   "부정 예시 두 개에는 제로샷보다 더 부정 쪽으로 가지 않았습니다.",
                   "The difference from zero-shot is within noise (two standard errors): this model was pulled hard "
                   "by one positive shot, but two negative shots did not push it further to negative than zero-shot.")
    else:
        verdict = ("부정 예시를 보여 주었는데도 '긍정'이 늘었습니다. 레이블을 따라 하는 것만으로는 설명되지 않습니다.",
                   "Even with negative shots, 'positive' went up: copying the labels does not explain it.")
    return check(
        abs(value - truth) < 0.5 / len(test),
        (f"맞습니다. 부정 예시 두 개 뒤에는 {truth:.1%}가 '긍정'으로 예측됩니다(제로샷 {zero:.1%}, 긍정 원샷 {one:.1%}). "
         + verdict[0],
         f"Right: after two negative shots {truth:.1%} are predicted positive (zero-shot {zero:.1%}, one positive "
         f"shot {one:.1%}). " + verdict[1]),
        (f"{josa(shown(answer), '은/는')} 다시 계산한 값과 다릅니다. 부정 예시 두 개(`shots`에서 label이 'negative'인 처음 두 개)로 "
         "`prompting.few_shot_prompt`를 만들고, `prompting.classify`의 예측 중 'positive'의 비율을 구하세요.",
         f"{shown(answer)} differs from the recomputed value. Build prompts with `prompting.few_shot_prompt` from the "
         "first two shots labelled 'negative', then take the share of 'positive' in `prompting.classify`'s predictions."),
    )


@self_check
def prompting_label_words(answer, model, tokenizer, shots, test) -> CheckResult:
    """Exercise 06.3: 4-shot accuracy when the labels are written ' good' / ' bad'."""
    shots, test = _reference_task(model, tokenizer, shots, test)
    if answer is None:
        return not_answered("`good_bad_accuracy`에 정확도(0~1)를 넣으세요.",
                            "set `good_bad_accuracy` to the accuracy (0 to 1).")
    value = as_fraction(answer)
    truth = _label_words_truth(model, tokenizer, shots, test)
    return check(
        abs(value - truth) < 0.5 / len(test),
        (f"맞습니다. ' good' / ' bad'로 쓴 4샷 정확도는 {truth:.1%}입니다. 위의 ' positive' / ' negative'와 비교해 보세요.",
         f"Right: with ' good' / ' bad' the 4-shot accuracy is {truth:.1%}. Compare it with ' positive' / ' negative' above."),
        (f"{josa(shown(answer), '은/는')} 다시 계산한 값과 다릅니다. 예시와 점수 매기기 양쪽 모두 레이블 단어를 바꿨는지 확인하세요: "
         "`label_names={'positive': 'good', 'negative': 'bad'}`, `label_words=(' good', ' bad')`.",
         f"{shown(answer)} differs from the recomputed value. Change the label words in both places: the shots "
         "(`label_names={'positive': 'good', 'negative': 'bad'}`) and the scoring (`label_words=(' good', ' bad')`)."),
    )
