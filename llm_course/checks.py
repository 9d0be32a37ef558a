"""Exercise self-checks that say in plain words what is right or wrong.

Korean and English notebooks share identical code cells, so every message
here is bilingual: Korean first, English on the next line. A check never
raises on a wrong or missing answer (a notebook must run top to bottom with
the exercises still blank); it prints its verdict and returns a
:class:`CheckResult` that tests and later cells can inspect.

Each notebook's checks are named ``<notebook>_<exercise>`` (``setup_...``
for notebook 00) and their worked solutions live in ``solutions/``.
"""

from __future__ import annotations

from dataclasses import dataclass

PASS, FAIL, TODO = "✅", "❌", "⏳"


@dataclass(frozen=True)
class CheckResult:
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:  # the notebook shows the message, not a dataclass dump
        return self.message


def _say(mark: str, ko: str, en: str) -> str:
    return f"{mark} {ko}\n   {en}"


def check(passed: bool, ok: tuple[str, str], wrong: tuple[str, str]) -> CheckResult:
    """Print the Korean and English verdict for ``passed`` and return it."""
    text = _say(PASS, *ok) if passed else _say(FAIL, *wrong)
    print(text)
    return CheckResult(bool(passed), text)


def not_answered(what_ko: str, what_en: str) -> CheckResult:
    text = _say(TODO, f"아직 답이 없습니다: {what_ko}", f"Not answered yet: {what_en}")
    print(text)
    return CheckResult(False, text)


# --------------------------------------------------------------------------
# Notebook 00: setup and orientation
# --------------------------------------------------------------------------


def setup_parameter_count(answer, model) -> CheckResult:
    """Exercise 00.1: the number of parameters of the loaded model."""
    if answer is None:
        return not_answered("`n_params`에 모델의 파라미터 수를 넣으세요.",
                            "set `n_params` to the model's number of parameters.")
    truth = sum(p.numel() for p in model.parameters())
    return check(
        answer == truth,
        (f"맞습니다. 이 모델의 파라미터는 {truth:,}개, 약 {truth / 1e6:.1f} M입니다.",
         f"Right: this model has {truth:,} parameters, about {truth / 1e6:.1f} M."),
        (f"{answer!r}는 정답이 아닙니다. 힌트: `sum(p.numel() for p in model.parameters())`",
         f"{answer!r} is not it. Hint: `sum(p.numel() for p in model.parameters())`"),
    )


def setup_new_tokens(generated_text: str | None, prompt: str, tokenizer, limit: int) -> CheckResult:
    """Exercise 00.2: generate at most ``limit`` new tokens after ``prompt``."""
    if generated_text is None:
        return not_answered("생성 결과 문자열을 `my_text`에 넣으세요.",
                            "put the generated string into `my_text`.")
    if not generated_text.startswith(prompt):
        return check(False, ("", ""),
                     ("생성된 글이 프롬프트로 시작하지 않습니다. 파이프라인의 `generated_text`를 그대로 넣으세요.",
                      "The text does not start with the prompt; use the pipeline's `generated_text` as it is."))
    new = generated_text[len(prompt):]
    n_new = len(tokenizer(new, add_special_tokens=False)["input_ids"])
    return check(
        0 < n_new <= limit,
        (f"좋습니다. 새 토큰 {n_new}개를 생성했습니다 (한도 {limit}개).",
         f"Good: {n_new} new tokens were generated (limit {limit})."),
        (f"새 토큰이 {n_new}개입니다. `max_new_tokens={limit}`로 다시 생성해 보세요.",
         f"{n_new} new tokens. Generate again with `max_new_tokens={limit}`."),
    )


def setup_model_memory(answer_mb, model) -> CheckResult:
    """Exercise 00.3: the model's weight memory in megabytes (float32: 4 bytes per parameter)."""
    if answer_mb is None:
        return not_answered("`weights_mb`에 가중치 메모리(MB)를 계산해 넣으세요.",
                            "compute the weights' memory in MB into `weights_mb`.")
    truth = sum(p.numel() * p.element_size() for p in model.parameters()) / 1e6
    return check(
        abs(float(answer_mb) - truth) <= 0.01 * truth,
        (f"맞습니다. 약 {truth:.0f} MB입니다 (파라미터 수 × 4바이트).",
         f"Right: about {truth:.0f} MB (parameters × 4 bytes)."),
        (f"{answer_mb}는 {truth:.0f} MB와 다릅니다. float32 파라미터 하나는 4바이트, 1 MB는 1e6 바이트입니다.",
         f"{answer_mb} differs from {truth:.0f} MB. One float32 parameter takes 4 bytes; 1 MB is 1e6 bytes."),
    )
