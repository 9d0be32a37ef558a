"""What every self-check shares: verdicts, reading the answer, checking the rest (every notebook).

A self-check has two kinds of input, and blames each on its own party:

* **the learner's answer** never makes a check raise. Blank, it gets ⏳;
  anything else is read through :func:`as_number`, :func:`as_integer`,
  :func:`as_fraction`, :func:`as_int_list`, :func:`as_tensor` or
  :func:`as_text`, which turn an answer they cannot use into an
  :class:`AnswerProblem`; :func:`self_check` makes that a ❌ with its hint.
* **the reference arguments** (the model, the tokenizer, ``seq_len=8192``…)
  come from the notebook. A wrong one is the notebook's bug, not the
  learner's: :func:`reference_int` and the other ``reference_*`` validators
  raise :class:`CheckArgumentError`, which names the check and the argument.

Any other exception is a bug in the check itself and propagates, so a test
that feeds a check junk can fail. Verdicts are in the notebook's language (both, Korean
first, where it cannot be known); errors are bilingual.

Why one module of about 420 lines: the verdicts, the answer readers and the reference
validators are one contract that every lesson's checks module relies on together.
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass

from ..i18n import bilingual, josa, lesson_language

PASS, FAIL, TODO = "✅", "❌", "⏳"


# --------------------------------------------------------------------------
# Verdicts
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """A check's verdict: truthy when passed; ``message`` holds the printed text."""

    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return self.message

    def _ipython_display_(self) -> None:
        # The verdict was already printed when the check ran; as the last
        # expression of a cell it would otherwise appear a second time.
        pass


def _say(mark: str, ko: str, en: str) -> str:
    """The verdict in the notebook's language (:func:`llm_course.i18n.lesson_language`); both where unknown."""
    lang = lesson_language()
    if lang in ("ko", "en"):
        return f"{mark} {ko if lang == 'ko' else en}"
    return f"{mark} {ko}\n   {en}"


def check(passed: bool, ok: tuple[str, str], wrong: tuple[str, str]) -> CheckResult:
    """Print the Korean and English verdict for ``passed`` and return it."""
    text = _say(PASS, *ok) if passed else _say(FAIL, *wrong)
    print(text)
    return CheckResult(bool(passed), text)


def not_answered(what_ko: str, what_en: str) -> CheckResult:
    """Print the ⏳ verdict of a blank answer and return it."""
    text = _say(TODO, f"아직 답이 없습니다: {what_ko}", f"Not answered yet: {what_en}")
    print(text)
    return CheckResult(False, text)


def shown(value, width: int = 60) -> str:
    """``repr(value)``, cut to ``width`` characters for a message."""
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


_TYPE_WORDS = {"str": "문자열", "int": "정수", "float": "실수", "bool": "참/거짓 값", "list": "리스트", "tuple": "튜플",
               "dict": "딕셔너리", "set": "집합", "Tensor": "텐서", "ndarray": "NumPy 배열",
               "function": "함수", "bytes": "바이트열", "BatchEncoding": "BatchEncoding 딕셔너리"}


def type_ko(value) -> str:
    """The value's type as a Korean reader says it: ``문자열(str)``, ``리스트(list)``, ``None``."""
    if value is None:
        return "None"
    name = type(value).__name__
    word = _TYPE_WORDS.get(name)
    return f"{word}({name})" if word else name


def type_en(value) -> str:
    """The value's type with its article: ``an int``, ``a list``, ``None``."""
    if value is None:
        return "None"
    name = type(value).__name__
    return f"{'an' if name[0].lower() in 'aeiou' else 'a'} {name}"


def wrong(answer, ko_rest: str, en_rest: str) -> tuple[str, str]:
    """The usual "X is not it" pair, with the particle that X's last sound takes."""
    text = shown(answer)
    return f"{josa(text, '은/는')} 정답이 아닙니다. {ko_rest}", f"{text} is not it. {en_rest}"


_SIZES = {"bytes": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9, "MiB": 2**20, "GiB": 2**30}
_POWERS = {"kB": "10³", "MB": "10⁶", "GB": "10⁹", "MiB": "2²⁰", "GiB": "2³⁰"}


def unit_slip(value: float, n_bytes: float, unit: str, rel: float = 0.01) -> tuple[str, str] | None:
    """A hint when ``value`` is ``n_bytes`` in another unit than ``unit`` (bytes, kB, MB, GB, MiB, GiB), else None.

    Used by every memory exercise (00, 08, 09), so a GiB answer gets the same hint everywhere.
    """
    for other, size in _SIZES.items():
        if other != unit and math.isclose(value, n_bytes / size, rel_tol=rel):
            if other == "bytes":
                return (f"바이트 수입니다. 1 {unit}는 {_POWERS[unit]} 바이트이니 그 수로 나누세요.",
                        f"That is in bytes: divide by {_POWERS[unit]} for {unit}.")
            return (f"{other}({_POWERS[other]} 바이트) 단위의 값입니다. 여기서 1 {unit}는 {_POWERS[unit]} 바이트입니다.",
                    f"That is in {other} ({_POWERS[other]} bytes); 1 {unit} here is {_POWERS[unit]} bytes.")
    return None


# --------------------------------------------------------------------------
# Reading the learner's answer
# --------------------------------------------------------------------------
# A string such as "538 MB", a tensor inside a BatchEncoding, an integer where
# a list belongs or a float where an index belongs gets a hint instead of a
# crash or a silent conversion. Whatever goes wrong while an answer is
# converted is the answer's: these functions turn it into an AnswerProblem.


class AnswerProblem(Exception):
    """An answer that cannot be checked as it is; carries a hint in Korean and English."""

    def __init__(self, ko: str, en: str):
        super().__init__(en)
        self.ko, self.en = ko, en


def _scalar(answer):
    """A 0-d tensor or NumPy scalar as a Python number; anything else unchanged."""
    if isinstance(answer, (str, bytes)) or not (hasattr(answer, "ndim") and hasattr(answer, "item")):
        return answer
    if answer.ndim == 0:
        return answer.item()
    size = answer.numel() if callable(getattr(answer, "numel", None)) else getattr(answer, "size", 0)
    if size == 1:
        raise AnswerProblem(f"값이 하나 든 텐서입니다. `.item()`으로 숫자를 꺼내 넣으세요: {shown(answer)}",
                            f"A tensor holding one value: take the number out with `.item()`: {shown(answer)}")
    return answer


def as_number(answer, *, unit: str = "") -> float:
    """A finite real number from an int, a float, a 0-d tensor or a NumPy scalar.

    Strings (even ``"538"`` or ``"538 MB"``), booleans, lists and NaN are refused with a hint.
    """
    answer = _scalar(answer)
    if isinstance(answer, bool):
        raise AnswerProblem(f"{josa(answer, '은/는')} 참/거짓 값입니다. 숫자를 넣으세요.",
                            f"{answer} is a truth value; a number is needed.")
    if isinstance(answer, (str, bytes)):
        if unit:
            raise AnswerProblem(f"{shown(answer)}: 단위({unit})는 빼고 숫자로 넣으세요. 예: 538, 0.25",
                                f"{shown(answer)}: give a number without the unit ({unit}), for example 538 or 0.25.")
        raise AnswerProblem(f"{shown(answer)}: 문자열이 아니라 숫자로 넣으세요. 예: 538, 0.25",
                            f"{shown(answer)}: give a number, not a string, for example 538 or 0.25.")
    if isinstance(answer, (list, tuple, dict, set)) or hasattr(answer, "shape"):
        raise AnswerProblem(f"숫자 하나가 필요한데 {josa(type_ko(answer), '이/가')} 들어왔습니다: {shown(answer)}",
                            f"One number is needed, got {type_en(answer)}: {shown(answer)}")
    try:
        value = float(answer)
    except Exception:  # noqa: BLE001 - whatever float() of an answer raises is the answer's problem
        raise AnswerProblem(f"숫자가 필요한데 {josa(type_ko(answer), '이/가')} 들어왔습니다: {shown(answer)}",
                            f"A number is needed, got {type_en(answer)}: {shown(answer)}") from None
    if not math.isfinite(value):
        raise AnswerProblem(f"{josa(value, '은/는')} 유한한 숫자가 아닙니다. 계산을 확인하세요.",
                            f"{value} is not a finite number; check the computation.")
    return value


def as_integer(answer) -> int:
    """A whole number: an int, a float such as ``2.0`` (from ``/``), or a 0-d tensor; ``4.5`` is refused."""
    value = as_number(answer)
    if value != int(value):
        raise AnswerProblem(f"{josa(shown(answer), '은/는')} 정수가 아닙니다. 번호나 개수는 정수로 넣으세요 (`//`로 나누기).",
                            f"{shown(answer)} is not a whole number; an index or a count must be one (divide with `//`).")
    return int(answer) if isinstance(answer, int) else int(value)


def as_fraction(answer) -> float:
    """A share between 0 and 1; a percentage such as ``35`` gets a hint to divide by 100."""
    value = as_number(answer)
    if 1 < value <= 100:
        raise AnswerProblem(f"{josa(shown(answer), '은/는')} 백분율로 보입니다. 0과 1 사이의 비율로 넣으세요 (예: 35 % → 0.35).",
                            f"{shown(answer)} looks like a percentage; give a share between 0 and 1 (35 % → 0.35).")
    if not 0 <= value <= 1:
        raise AnswerProblem(f"{josa(shown(answer), '은/는')} 0과 1 사이가 아닙니다. 비율은 0~1입니다.",
                            f"{shown(answer)} is not between 0 and 1; a share is.")
    return value


def as_int_list(answer, *, length: int | None = None) -> list[int]:
    """A list of whole numbers from a list, a tuple, a 1-D tensor, a ``(1, n)`` batch or a NumPy array.

    A ``BatchEncoding`` or dict gets a hint to take its ``["input_ids"]``; a single number a hint that a list is needed.
    """
    if hasattr(answer, "keys") and not hasattr(answer, "shape"):
        raise AnswerProblem("딕셔너리(BatchEncoding)가 들어왔습니다. `[\"input_ids\"]`로 ID 목록을 꺼내 넣으세요.",
                            "That is a dict (BatchEncoding); take the id list out with `[\"input_ids\"]`.")
    if hasattr(answer, "tolist") and hasattr(answer, "shape"):
        if len(answer.shape) == 2 and answer.shape[0] == 1:
            answer = answer[0]
        if len(answer.shape) != 1:
            raise AnswerProblem(f"1차원 목록이 필요한데 모양이 {tuple(answer.shape)}입니다.",
                                f"A 1-D list is needed; the shape is {tuple(answer.shape)}.")
        answer = answer.tolist()
    if not isinstance(answer, (list, tuple)):
        raise AnswerProblem(f"목록(list)이 필요한데 {josa(type_ko(answer), '이/가')} 들어왔습니다: {shown(answer)}",
                            f"A list is needed, got {type_en(answer)}: {shown(answer)}")
    if len(answer) == 1 and isinstance(answer[0], (list, tuple)):
        answer = answer[0]
    values = [as_integer(v) for v in answer]
    if length is not None and len(values) != length:
        raise AnswerProblem(f"항목이 {length}개여야 하는데 {len(values)}개입니다.",
                            f"{length} items are needed, there are {len(values)}.")
    return values


def as_tensor(answer, shape: tuple | None = None, dtype=None):
    """A float tensor on the CPU (optionally of ``shape``) from a tensor, a NumPy array or nested lists."""
    import torch

    if isinstance(answer, (str, bytes, bool)) or answer is None:
        raise AnswerProblem(f"텐서가 필요한데 {josa(type_ko(answer), '이/가')} 들어왔습니다.",
                            f"A tensor is needed, got {type_en(answer)}.")
    try:
        if isinstance(answer, torch.Tensor):
            tensor = answer.detach().to("cpu", dtype or torch.float32)
        else:
            tensor = torch.as_tensor(answer, dtype=dtype or torch.float32, device="cpu")
    except Exception:  # noqa: BLE001 - an answer torch cannot convert is the answer's problem
        raise AnswerProblem(f"텐서로 바꿀 수 없는 값입니다 ({type_ko(answer)}).",
                            f"This cannot be turned into a tensor ({type(answer).__name__}).") from None
    if shape is not None and tuple(tensor.shape) != tuple(shape):
        raise AnswerProblem(f"모양이 {tuple(shape)}인 텐서가 필요한데 {tuple(tensor.shape)}입니다.",
                            f"A tensor of shape {tuple(shape)} is needed; this one is {tuple(tensor.shape)}.")
    if not torch.isfinite(tensor).all():
        raise AnswerProblem("텐서에 NaN이나 무한대가 들어 있습니다. 계산을 확인하세요.",
                            "The tensor holds NaN or infinity; check the computation.")
    return tensor


def as_text(answer, hint: tuple[str, str] = ("", "")) -> str:
    """A string; anything else is refused, with ``hint`` (Korean, English) saying where the text is."""
    if not isinstance(answer, str):
        raise AnswerProblem(f"문자열이 필요한데 {josa(type_ko(answer), '이/가')} 들어왔습니다. {hint[0]}".rstrip(),
                            f"A string is needed, got {type_en(answer)}. {hint[1]}".rstrip())
    return answer


# --------------------------------------------------------------------------
# Checking the reference arguments (the notebook's, not the learner's)
# --------------------------------------------------------------------------


class CheckArgumentError(TypeError, ValueError):
    """A check was called with a wrong reference argument: a bug of the notebook, not the learner's answer.

    A ``TypeError`` and a ``ValueError`` at once, so either ``except`` catches it.
    """

    def __init__(self, argument: str, ko: str, en: str):
        super().__init__(argument, ko, en)
        self.argument, self.ko, self.en = argument, ko, en
        self.check_name: str | None = None  # filled in by @self_check

    def __str__(self) -> str:
        where = f"checks.{self.check_name}: " if self.check_name else ""
        ko, en = (text if text.rstrip().endswith((".", ")")) else text.rstrip() + "." for text in (self.ko, self.en))
        return bilingual(f"{where}{ko} 답의 문제가 아닙니다. 셀이 확인 함수에 넘긴 `{self.argument}` 인자가 잘못되었습니다.",
                         f"{where}{en} This is not about the answer: the cell passes the check a wrong `{self.argument}`.")


def _bad(name: str, value, ko_rule: str, en_rule: str) -> CheckArgumentError:
    """``ko_rule`` ends with its copula (``"1 이상의 정수여야"``); ``en_rule`` follows "must be"."""
    return CheckArgumentError(name, f"`{name}` 인자는 {ko_rule} 합니다(받은 값: {shown(value)}).",
                              f"`{name}` must be {en_rule} (got {shown(value)}).")


def reference_int(value, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an int from ``minimum`` to ``maximum``; a float such as ``8192.0`` or a bool is refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
            or (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        ko = " ".join(f"{bound} {word}" for bound, word in ((minimum, "이상"), (maximum, "이하")) if bound is not None)
        en = "".join(f" {op} {bound}" for bound, op in ((minimum, ">="), (maximum, "<=")) if bound is not None)
        raise _bad(name, value, f"{ko}의 정수여야" if ko else "정수여야", f"a whole number{en}")
    return int(value)


def reference_number(value, name: str, *, positive: bool = False) -> float:
    """``value`` as a finite float (``> 0`` with ``positive``); a string, a bool or NaN is refused."""
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value) \
        and (value > 0 or not positive)
    if not ok:
        raise _bad(name, value, "0보다 큰 유한한 숫자여야" if positive else "유한한 숫자여야",
                   "a finite number > 0" if positive else "a finite number")
    return float(value)


def reference_text(value, name: str) -> str:
    """``value`` as a non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise _bad(name, value, "비어 있지 않은 문자열이어야", "a non-empty string")
    return value


def reference_texts(value, name: str) -> list[str]:
    """``value`` as a non-empty list of non-empty strings."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value \
            or not all(isinstance(v, str) and v.strip() for v in value):
        raise _bad(name, value, "비어 있지 않은 문자열들의 목록이어야", "a non-empty list of non-empty strings")
    return list(value)


def reference_int_list(value, name: str) -> list[int]:
    """``value`` as a list of ints (a list, a tuple or a 1-D integer tensor)."""
    if hasattr(value, "tolist") and getattr(value, "ndim", None) == 1:
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or any(isinstance(v, bool) or not isinstance(v, numbers.Integral)
                                                   for v in value):
        raise _bad(name, value, "정수들의 목록이어야", "a list of whole numbers")
    return [int(v) for v in value]


def reference_tensor(value, name: str, *, ndim: int | None = None):
    """``value`` as a torch tensor, of ``ndim`` dimensions when given."""
    import torch

    if not isinstance(value, torch.Tensor) or (ndim is not None and value.ndim != ndim):
        raise _bad(name, value, f"{ndim}차원 텐서여야" if ndim else "텐서여야",
                   f"a {ndim}-D tensor" if ndim else "a tensor")
    return value


def reference_model(value, name: str = "model"):
    """``value`` as a transformers model: a ``torch.nn.Module`` with a ``config``."""
    import torch

    if not isinstance(value, torch.nn.Module) or not hasattr(value, "config"):
        raise _bad(name, value, "`models.load_model()`이 돌려주는 것 같은 transformers 모델이어야",
                   "a transformers model (as `models.load_model()` returns)")
    return value


def reference_tokenizer(value, name: str = "tokenizer"):
    """``value`` as a transformers tokenizer (``models.load_tokenizer()``, ``AutoTokenizer``)."""
    from transformers import PreTrainedTokenizerBase

    if not isinstance(value, PreTrainedTokenizerBase):
        raise _bad(name, value, "`models.load_tokenizer()`가 돌려주는 것 같은 transformers 토크나이저여야",
                   "a transformers tokenizer (as `models.load_tokenizer()` returns)")
    return value


def reference_config(value, name: str = "config"):
    """``value`` as a transformers model config (``model.config``, ``AutoConfig``, ``MistralConfig``…)."""
    from transformers import PretrainedConfig

    if not isinstance(value, PretrainedConfig):
        raise _bad(name, value, "`model.config`나 `AutoConfig` 같은 transformers 모델 설정이어야",
                   "a transformers model config (`model.config`, `AutoConfig`, …)")
    return value


def reference(value, name: str, validate):
    """``validate(value)``, with the package's own ``ValueError``/``TypeError`` turned into a CheckArgumentError.

    For arguments that a lesson's module already knows how to check (a dtype
    name, a layer number, a conversation), so that the rule is written once.
    """
    try:
        return validate(value)
    except (TypeError, ValueError) as err:
        ko, _, en = str(err).partition("\n")
        raise CheckArgumentError(name, ko, en or ko) from err


# --------------------------------------------------------------------------
# The decorator
# --------------------------------------------------------------------------


def self_check(func):
    """Turn an :class:`AnswerProblem` into a ❌ verdict; let everything else through.

    A :class:`CheckArgumentError` gets the check's name and propagates (the
    notebook passed a wrong reference argument); any other exception is a bug
    in the check and propagates unchanged.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except AnswerProblem as problem:
            return check(False, ("", ""), (problem.ko, problem.en))
        except CheckArgumentError as err:
            err.check_name = err.check_name or func.__name__
            raise

    wrapper.__self_check__ = True  # tests/test_checks.py finds every check by this mark
    return wrapper
