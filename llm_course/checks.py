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

import functools
import math
from dataclasses import dataclass

from .i18n import josa

PASS, FAIL, TODO = "✅", "❌", "⏳"


@dataclass(frozen=True)
class CheckResult:
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
# Turning a learner's answer into a number, a list or a tensor
# --------------------------------------------------------------------------
# Every check reads its answer through these functions, so that a string such
# as "538 MB", a tensor inside a BatchEncoding, an integer where a list belongs
# or a float where an index belongs gets a hint instead of a crash or a silent
# conversion. They raise AnswerProblem; @self_check turns it into a verdict.


class AnswerProblem(Exception):
    """An answer that cannot be checked as it is; carries a hint in Korean and English."""

    def __init__(self, ko: str, en: str):
        super().__init__(en)
        self.ko, self.en = ko, en


def _shown(answer, width: int = 60) -> str:
    text = repr(answer)
    return text if len(text) <= width else text[: width - 1] + "…"


_TYPE_WORDS = {"str": "문자열", "int": "정수", "float": "실수", "bool": "참/거짓 값", "list": "리스트", "tuple": "튜플",
               "dict": "딕셔너리", "set": "집합", "NoneType": "None", "Tensor": "텐서", "ndarray": "NumPy 배열",
               "function": "함수", "bytes": "바이트열", "BatchEncoding": "BatchEncoding 딕셔너리"}


def _type_name(answer) -> str:
    return type(answer).__name__


def _type_ko(answer) -> str:
    """The answer's type as a Korean reader says it: ``문자열(str)``, ``리스트(list)``, ..."""
    name = _type_name(answer)
    word = _TYPE_WORDS.get(name)
    return f"{word}({name})" if word and word != name else name


def _scalar(answer):
    """A 0-d tensor or NumPy scalar as a Python number; anything else unchanged."""
    if isinstance(answer, (str, bytes)) or not (hasattr(answer, "ndim") and hasattr(answer, "item")):
        return answer
    if answer.ndim == 0:
        return answer.item()
    size = answer.numel() if callable(getattr(answer, "numel", None)) else getattr(answer, "size", 0)
    if size == 1:
        raise AnswerProblem(f"값이 하나 든 텐서입니다. `.item()`으로 숫자를 꺼내 넣으세요: {_shown(answer)}",
                            f"A tensor holding one value: take the number out with `.item()`: {_shown(answer)}")
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
        unit_ko = f" 단위({unit})는 빼고" if unit else ""
        unit_en = f", without the unit ({unit})" if unit else ""
        raise AnswerProblem(f"{_shown(answer)}: 문자열이 아니라 숫자로 넣으세요{unit_ko}. 예: 538, 0.25",
                            f"{_shown(answer)}: give a number, not a string{unit_en}. For example 538 or 0.25.")
    if isinstance(answer, (list, tuple, dict, set)) or hasattr(answer, "shape"):
        raise AnswerProblem(f"숫자 하나가 필요한데 {josa(_type_ko(answer), '이/가')} 들어왔습니다: {_shown(answer)}",
                            f"One number is needed, got a {_type_name(answer)}: {_shown(answer)}")
    try:
        value = float(answer)
    except (TypeError, ValueError, OverflowError):
        raise AnswerProblem(f"숫자가 필요한데 {josa(_type_ko(answer), '이/가')} 들어왔습니다: {_shown(answer)}",
                            f"A number is needed, got a {_type_name(answer)}: {_shown(answer)}") from None
    if not math.isfinite(value):
        raise AnswerProblem(f"{josa(value, '은/는')} 유한한 숫자가 아닙니다. 계산을 확인하세요.",
                            f"{value} is not a finite number; check the computation.")
    return value


def as_integer(answer) -> int:
    """A whole number: an int, a float such as ``2.0`` (from ``/``), or a 0-d tensor; ``4.5`` is refused."""
    value = as_number(answer)
    if value != int(value):
        raise AnswerProblem(f"{josa(_shown(answer), '은/는')} 정수가 아닙니다. 번호나 개수는 정수로 넣으세요 (`//`로 나누기).",
                            f"{_shown(answer)} is not a whole number; an index or a count must be one (divide with `//`).")
    return int(value)


def as_fraction(answer) -> float:
    """A share between 0 and 1; a percentage such as ``35`` gets a hint to divide by 100."""
    value = as_number(answer)
    if 1 < value <= 100:
        raise AnswerProblem(f"{josa(_shown(answer), '은/는')} 백분율로 보입니다. 0과 1 사이의 비율로 넣으세요 (예: 35 % → 0.35).",
                            f"{_shown(answer)} looks like a percentage; give a share between 0 and 1 (35 % → 0.35).")
    if not 0 <= value <= 1:
        raise AnswerProblem(f"{josa(_shown(answer), '은/는')} 0과 1 사이가 아닙니다. 비율은 0~1입니다.",
                            f"{_shown(answer)} is not between 0 and 1; a share is.")
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
    if isinstance(answer, (str, bytes)) or not isinstance(answer, (list, tuple)):
        raise AnswerProblem(f"목록(list)이 필요한데 {josa(_type_ko(answer), '이/가')} 들어왔습니다: {_shown(answer)}",
                            f"A list is needed, got a {_type_name(answer)}: {_shown(answer)}")
    if len(answer) == 1 and isinstance(answer[0], (list, tuple)):
        answer = answer[0]
    values = [as_integer(v) for v in answer]
    if length is not None and len(values) != length:
        raise AnswerProblem(f"항목이 {length}개여야 하는데 {len(values)}개입니다.",
                            f"{length} items are needed, there are {len(values)}.")
    return values


def as_tensor(answer, shape: tuple | None = None, dtype=None):
    """A float tensor (optionally of ``shape``) from a tensor, a NumPy array or nested lists."""
    import torch

    if isinstance(answer, (str, bytes, bool)) or answer is None:
        raise AnswerProblem(f"텐서가 필요한데 {josa(_type_ko(answer), '이/가')} 들어왔습니다.",
                            f"A tensor is needed, got a {_type_name(answer)}.")
    try:
        tensor = torch.as_tensor(answer, dtype=dtype or torch.float32, device="cpu")
    except (TypeError, ValueError, RuntimeError):
        raise AnswerProblem(f"텐서로 바꿀 수 없는 값입니다 ({_type_name(answer)}).",
                            f"This cannot be turned into a tensor ({_type_name(answer)}).") from None
    if isinstance(answer, torch.Tensor):
        tensor = answer.detach().to("cpu", dtype or torch.float32)
    if shape is not None and tuple(tensor.shape) != tuple(shape):
        raise AnswerProblem(f"모양이 {tuple(shape)}인 텐서가 필요한데 {tuple(tensor.shape)}입니다.",
                            f"A tensor of shape {tuple(shape)} is needed; this one is {tuple(tensor.shape)}.")
    if not torch.isfinite(tensor).all():
        raise AnswerProblem("텐서에 NaN이나 무한대가 들어 있습니다. 계산을 확인하세요.",
                            "The tensor holds NaN or infinity; check the computation.")
    return tensor


def self_check(func):
    """Make a check function never raise, whatever the answer.

    An :class:`AnswerProblem` becomes a ❌ verdict with its hint; any other
    error (an answer of a shape no one foresaw) becomes a ❌ that names it,
    so the notebook still runs to the end.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except AnswerProblem as problem:
            return check(False, ("", ""), (problem.ko, problem.en))
        except Exception as err:  # noqa: BLE001 - a self-check must never stop the notebook
            return check(False, ("", ""),
                         (f"답을 확인하다가 문제가 생겼습니다 ({type(err).__name__}: {err}). 답의 형식을 확인하세요.",
                          f"Checking the answer failed ({type(err).__name__}: {err}). Check the answer's form."))

    wrapper.__self_check__ = True  # tests/test_checks.py finds every check by this mark
    return wrapper


# --------------------------------------------------------------------------
# Notebook 00: setup and orientation
# --------------------------------------------------------------------------


def _wrong(answer, ko_rest: str, en_rest: str) -> tuple[str, str]:
    """The usual "X is not it" pair, with the particle that X's last sound takes."""
    shown = _shown(answer)
    return f"{josa(shown, '은/는')} 정답이 아닙니다. {ko_rest}", f"{shown} is not it. {en_rest}"


@self_check
def setup_parameter_count(answer, model) -> CheckResult:
    """Exercise 00.1: the number of parameters of the loaded model."""
    if answer is None:
        return not_answered("`n_params`에 모델의 파라미터 수를 넣으세요.",
                            "set `n_params` to the model's number of parameters.")
    value = as_integer(answer)
    truth = sum(p.numel() for p in model.parameters())
    return check(
        value == truth,
        (f"맞습니다. 이 모델의 파라미터는 {truth:,}개, 약 {truth / 1e6:.1f} M입니다.",
         f"Right: this model has {truth:,} parameters, about {truth / 1e6:.1f} M."),
        _wrong(answer, "힌트: `sum(p.numel() for p in model.parameters())`",
               "Hint: `sum(p.numel() for p in model.parameters())`"),
    )


@self_check
def setup_new_tokens(generated_text, prompt: str, tokenizer, limit: int) -> CheckResult:
    """Exercise 00.2: generate at most ``limit`` new tokens after ``prompt``."""
    if generated_text is None:
        return not_answered("생성 결과 문자열을 `my_text`에 넣으세요.",
                            "put the generated string into `my_text`.")
    if not isinstance(generated_text, str):
        raise AnswerProblem(f"문자열이 필요한데 {josa(_type_ko(generated_text), '이/가')} 들어왔습니다. "
                            "`result[0][\"generated_text\"]`처럼 글만 꺼내 넣으세요.",
                            f"A string is needed, got a {_type_name(generated_text)}. "
                            "Take the text out: `result[0][\"generated_text\"]`.")
    if not generated_text.startswith(prompt):
        raise AnswerProblem("생성된 글이 프롬프트로 시작하지 않습니다. 파이프라인의 `generated_text`를 그대로 넣으세요.",
                            "The text does not start with the prompt; use the pipeline's `generated_text` as it is.")
    new = generated_text[len(prompt):]
    n_new = len(tokenizer(new, add_special_tokens=False)["input_ids"])
    return check(
        0 < n_new <= limit,
        (f"좋습니다. 새 토큰 {n_new}개를 생성했습니다 (한도 {limit}개).",
         f"Good: {n_new} new tokens were generated (limit {limit})."),
        (f"새 토큰이 {n_new}개입니다. `max_new_tokens={limit}`로 다시 생성해 보세요.",
         f"{n_new} new tokens. Generate again with `max_new_tokens={limit}`."),
    )


@self_check
def setup_model_memory(answer_mb, model) -> CheckResult:
    """Exercise 00.3: the model's weight memory in megabytes (float32: 4 bytes per parameter)."""
    if answer_mb is None:
        return not_answered("`weights_mb`에 가중치 메모리(MB)를 계산해 넣으세요.",
                            "compute the weights' memory in MB into `weights_mb`.")
    value = as_number(answer_mb, unit="MB")
    truth = sum(p.numel() * p.element_size() for p in model.parameters()) / 1e6
    hint_ko = "float32 파라미터 하나는 4바이트, 1 MB는 1e6 바이트입니다."
    hint_en = "One float32 parameter takes 4 bytes; 1 MB is 1e6 bytes."
    if abs(value - truth * 1e6) <= 0.01 * truth * 1e6:
        hint_ko, hint_en = "바이트 수입니다. 1e6으로 나눠 MB로 바꾸세요.", "That is in bytes: divide by 1e6 for MB."
    return check(
        abs(value - truth) <= 0.01 * truth,
        (f"맞습니다. 약 {truth:.0f} MB입니다 (파라미터 수 × 4바이트).",
         f"Right: about {truth:.0f} MB (parameters × 4 bytes)."),
        (f"{josa(_shown(answer_mb), '은/는')} {truth:.0f} MB와 다릅니다. {hint_ko}",
         f"{_shown(answer_mb)} differs from {truth:.0f} MB. {hint_en}"),
    )


# --------------------------------------------------------------------------
# Notebook 01: tokenization
# --------------------------------------------------------------------------


@self_check
def tokenization_paragraph_cost(answer, tokenizer, ko_text: str, en_text: str) -> CheckResult:
    """Exercise 01.1: ``{"ko": n, "en": m}``, the token counts of a paragraph in Korean and in English."""
    from . import tokens

    if answer is None:
        return not_answered("`my_counts`에 {\"ko\": 한국어 토큰 수, \"en\": 영어 토큰 수}를 넣으세요.",
                            "set `my_counts` to {\"ko\": Korean token count, \"en\": English token count}.")
    try:
        truth = {"ko": tokens.count_tokens(tokenizer, ko_text), "en": tokens.count_tokens(tokenizer, en_text)}
    except ValueError as err:
        raise AnswerProblem(f"문단을 먼저 채우세요: {err}", f"Fill in the paragraphs first: {err}") from None
    if not isinstance(answer, dict) or set(answer) != {"ko", "en"}:
        raise AnswerProblem("답은 \"ko\"와 \"en\" 두 키를 가진 딕셔너리여야 합니다. 예: {\"ko\": 40, \"en\": 12}",
                            "The answer must be a dict with exactly the keys \"ko\" and \"en\", e.g. {\"ko\": 40, \"en\": 12}.")
    given = {lang: as_integer(answer[lang]) for lang in ("ko", "en")}
    ratio = truth["ko"] / truth["en"]
    return check(
        given == truth,
        (f"맞습니다. 한국어 {truth['ko']}개, 영어 {truth['en']}개, 한국어가 {ratio:.1f}배입니다.",
         f"Right: {truth['ko']} Korean tokens, {truth['en']} English ones; Korean costs {ratio:.1f}×."),
        _wrong(answer, "힌트: `len(tokenizer(text, add_special_tokens=False)[\"input_ids\"])`",
               "Hint: `len(tokenizer(text, add_special_tokens=False)[\"input_ids\"])`"),
    )


@self_check
def tokenization_utf8_bytes(answer, text: str, tokenizer) -> CheckResult:
    """Exercise 01.2: the number of UTF-8 bytes of ``text``, the most tokens a byte-level BPE can need."""
    from . import tokens

    if answer is None:
        return not_answered("`n_bytes`에 문장의 UTF-8 바이트 수를 넣으세요.",
                            "set `n_bytes` to the sentence's number of UTF-8 bytes.")
    value = as_integer(answer)
    truth = len(text.encode("utf-8"))
    n_tokens = tokens.count_tokens(tokenizer, text)
    hint = ("힌트: `len(text.encode(\"utf-8\"))`. 한글 한 글자는 3바이트입니다.",
            "Hint: `len(text.encode(\"utf-8\"))`; a Hangul syllable takes 3 bytes.")
    if value == len(text):
        hint = ("글자 수를 셌습니다. 바이트 수는 `len(text.encode(\"utf-8\"))`입니다(한글 한 글자 = 3바이트).",
                "That counts characters; bytes are `len(text.encode(\"utf-8\"))` (a Hangul syllable is 3 bytes).")
    return check(
        value == truth,
        (f"맞습니다. {len(text)}글자가 {truth}바이트입니다. 바이트 수준 BPE는 토큰 하나가 1바이트 이상이므로 "
         f"토큰이 {truth}개를 넘을 수 없습니다. 실제로는 {n_tokens}개입니다.",
         f"Right: {len(text)} characters take {truth} bytes. Every byte-level token holds at least one byte, "
         f"so there can be at most {truth} tokens; there are {n_tokens}."),
        _wrong(answer, *hint),
    )


@self_check
def tokenization_beat_cl100k(my_bpe, korean_sentences: list[str], reference_count: int,
                             max_vocab: int = 2000) -> CheckResult:
    """Exercise 01.3: a BPE of at most ``max_vocab`` tokens that needs fewer tokens than ``reference_count``."""
    from tokenizers import Tokenizer

    from . import tokens

    if my_bpe is None:
        return not_answered("`my_bpe`에 직접 학습한 tokenizers.Tokenizer를 넣으세요.",
                            "set `my_bpe` to a tokenizers.Tokenizer you trained.")
    if not isinstance(my_bpe, Tokenizer):
        raise AnswerProblem(f"`my_bpe`는 tokenizers.Tokenizer여야 합니다 (지금은 {_type_name(my_bpe)}).",
                            f"`my_bpe` must be a tokenizers.Tokenizer (it is a {_type_name(my_bpe)}).")
    vocab = my_bpe.get_vocab_size()
    if vocab > max_vocab:
        raise AnswerProblem(f"어휘가 {vocab}개입니다. {max_vocab}개 이하로 학습하세요.",
                            f"The vocabulary has {vocab} tokens; train one with at most {max_vocab}.")
    count = sum(tokens.count_tokens(my_bpe, s) for s in korean_sentences)
    return check(
        count < reference_count,
        (f"해냈습니다. 어휘 {vocab}개로 한국어 문장이 {count}토큰, cl100k_base는 {reference_count}토큰입니다.",
         f"Done: with {vocab} tokens of vocabulary the Korean sentences take {count} tokens; "
         f"cl100k_base needs {reference_count}."),
        (f"한국어 문장이 {count}토큰으로, cl100k_base의 {reference_count}토큰보다 적지 않습니다. "
         "`vocab_size`를 키워 보세요.",
         f"The Korean sentences take {count} tokens, not fewer than cl100k_base's {reference_count}. "
         "Try a larger `vocab_size`."),
    )


# --------------------------------------------------------------------------
# Notebook 02: embeddings
# --------------------------------------------------------------------------


@self_check
def embeddings_token_similarity(answer, tokenizer, model, word_a: str = " cat", word_b: str = " dog") -> CheckResult:
    """Exercise 02.1: cosine similarity of two tokens' rows in the chat model's embedding matrix."""
    if answer is None:
        return not_answered("`cat_dog`에 두 토큰 벡터의 코사인 유사도를 넣으세요.",
                            "put the two token vectors' cosine similarity into `cat_dog`.")
    import torch.nn.functional as F

    from .embeddings import token_id

    value = as_number(answer)
    matrix = model.get_input_embeddings().weight.detach()
    truth = float(F.cosine_similarity(matrix[token_id(tokenizer, word_a)], matrix[token_id(tokenizer, word_b)], dim=0))
    return check(
        abs(value - truth) < 1e-3,
        (f"맞습니다. {word_a!r}와 {word_b!r}의 코사인 유사도는 {truth:.3f}입니다.",
         f"Right: the cosine similarity of {word_a!r} and {word_b!r} is {truth:.3f}."),
        _wrong(answer, "힌트: 두 토큰의 ID로 임베딩 행렬의 행을 꺼내 `F.cosine_similarity(a, b, dim=0)`을 계산하세요.",
               "Hint: take the two tokens' rows of the embedding matrix by id and compute "
               "`F.cosine_similarity(a, b, dim=0)`."),
    )


@self_check
def embeddings_semantic_search(answer, query: str, sentences: list[str], encoder, k: int = 3) -> CheckResult:
    """Exercise 02.2: indices of the ``k`` sentences closest to ``query``, best first."""
    if answer is None:
        return not_answered(f"`top{k}`에 가장 비슷한 문장 {k}개의 번호를 순서대로 넣으세요.",
                            f"put the indices of the {k} most similar sentences, best first, into `top{k}`.")
    from .embeddings import semantic_search

    given = as_int_list(answer, length=k)
    vectors = encoder.encode([query, *sentences], convert_to_tensor=True)
    truth = semantic_search(vectors[0], vectors[1:], k=k)
    if given[0] == truth[0] and given != truth:
        raise AnswerProblem(f"1등({truth[0]}번)은 맞았습니다. 나머지 순서를 확인하세요: 유사도가 큰 것부터입니다.",
                            f"The best match ({truth[0]}) is right; check the rest: highest similarity first.")
    return check(
        given == truth,
        (f"맞습니다. 질문에 가장 가까운 문장은 {truth[0]}번: {sentences[truth[0]]!r}",
         f"Right: the sentence closest to the query is {truth[0]}: {sentences[truth[0]]!r}"),
        _wrong(answer, f"질문과 문장들을 `encode`한 뒤 코사인 유사도가 큰 순서로 번호 {k}개를 고르세요 (`topk`).",
               f"Encode the query and the sentences, then take the {k} indices with the highest cosine "
               "similarity (`topk`)."),
    )


# --------------------------------------------------------------------------
# Notebook 03: attention
# --------------------------------------------------------------------------


@self_check
def attention_kv_head(answer, model, head: int) -> CheckResult:
    """Exercise 03.1: which key/value head a query head reads under grouped-query attention."""
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
        _wrong(answer, f"힌트: 그룹 크기는 num_attention_heads // num_key_value_heads = {group}입니다.",
               f"Hint: the group size is num_attention_heads // num_key_value_heads = {group}."),
    )


@self_check
def attention_previous_token_head(answer, attentions) -> CheckResult:
    """Exercise 03.2: ``(layer, head)`` of the head that attends most to the previous token."""
    from .attention import best_head, diagonal_scores

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


@self_check
def attention_head_by_hand(answer, model, tokenizer, text: str, layer: int, head: int) -> CheckResult:
    """Exercise 03.3: a function ``(hidden_states, layer, head) -> (seq_len, seq_len) weights`` computed by hand.

    The check calls it on ``text`` at ``(layer, head)`` and on a second sentence
    at another head, and compares both with the model's own weights. Calling the
    model, its attention layers or ``attention.head_by_hand`` inside the function
    does not count: the exercise is to compute the head yourself.
    """
    import torch

    from . import attention

    if answer is None:
        return not_answered(f"`my_head_weights(hidden_states, layer, head)` 함수를 완성하세요 (층 {layer}, 헤드 {head}로 확인).",
                            f"complete the function `my_head_weights(hidden_states, layer, head)` (checked at layer {layer}, head {head}).")
    if not callable(answer):
        raise AnswerProblem(f"함수가 필요한데 {josa(_type_ko(answer), '이/가')} 들어왔습니다. `def my_head_weights(hidden_states, "
                            "layer, head):`로 정의한 함수 이름을 넘기세요. 모델의 `attentions`를 그대로 넘기면 안 됩니다.",
                            f"A function is needed, got a {_type_name(answer)}. Pass the function you defined with "
                            "`def my_head_weights(hidden_states, layer, head):`, not the model's `attentions`.")
    cases = [(text, layer, head), (_SECOND_SENTENCE, (layer + 7) % model.config.num_hidden_layers,
                                   (head + 4) % model.config.num_attention_heads)]
    for sentence, lay, hd in cases:
        encoded = tokenizer(sentence, return_tensors="pt").to(model.device)
        with torch.no_grad():
            out = model(**encoded, output_attentions=True, output_hidden_states=True)
        truth = out.attentions[lay][0, hd].float().cpu()
        used = []
        layers = [(f"어텐션 층 layers[{i}].self_attn", f"the attention layer layers[{i}].self_attn", blk.self_attn)
                  for i, blk in enumerate(model.model.layers)]
        hooks = [m.register_forward_pre_hook(lambda m, a, names=(ko, en): used.append(names))
                 for ko, en, m in [("모델", "the model", model)] + layers]
        original = attention.head_by_hand
        attention.head_by_hand = lambda *a, **k: (used.append(("`attention.head_by_hand`", "`attention.head_by_hand`"))
                                                  or original(*a, **k))
        try:
            with torch.no_grad():
                mine = answer(out.hidden_states, lay, hd)
        finally:
            attention.head_by_hand = original
            for h in hooks:
                h.remove()
        if used:
            ko, en = used[0]
            raise AnswerProblem(f"함수 안에서 {josa(ko, '을/를')} 불렀습니다. 모델이나 어텐션 층, `attention.head_by_hand` 없이 "
                                "q_proj, k_proj, RoPE, 마스크, 소프트맥스로 직접 계산하세요.",
                                f"The function called {en}. Compute the head yourself from q_proj, k_proj, RoPE, "
                                "the mask and softmax, without the model, its attention layers or `attention.head_by_hand`.")
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


# --------------------------------------------------------------------------
# Notebook 05: generation and its pitfalls
# --------------------------------------------------------------------------


@self_check
def generation_new_text(answer, output_ids, input_length: int, tokenizer) -> CheckResult:
    """Exercise 05.1: decode only the tokens ``generate`` added after the prompt."""
    if answer is None:
        return not_answered("`new_text`에 새로 생성된 부분만 디코딩해 넣으세요.",
                            "decode only the newly generated part into `new_text`.")
    if not isinstance(answer, str):
        raise AnswerProblem(f"문자열이 필요한데 {josa(_type_ko(answer), '이/가')} 들어왔습니다. `tokenizer.decode(...)`의 결과를 넣으세요.",
                            f"A string is needed, got a {_type_name(answer)}; put in the result of `tokenizer.decode(...)`.")
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
        (f"{josa(_shown(answer), '은/는')} 새 토큰만 디코딩한 결과와 다릅니다. 힌트: `tokenizer.decode(output_ids[0, input_length:], "
         "skip_special_tokens=True)`",
         f"{_shown(answer)} is not the new tokens decoded. Hint: `tokenizer.decode(output_ids[0, input_length:], "
         "skip_special_tokens=True)`"),
    )


@self_check
def generation_top_p_count(answer, logits, top_p: float) -> CheckResult:
    """Exercise 05.2: how many tokens top-p keeps for one next-token distribution (``logits``: 1-D)."""
    if answer is None:
        return not_answered(f"`n_kept`에 top_p={top_p}가 남기는 토큰 수를 넣으세요.",
                            f"put the number of tokens top_p={top_p} keeps into `n_kept`.")
    from transformers import TopPLogitsWarper

    value = as_integer(answer)
    kept = TopPLogitsWarper(top_p=top_p)(None, logits.reshape(1, -1).float())
    truth = _finite_count(kept)
    return check(
        value == truth,
        (f"맞습니다. top_p={top_p}는 어휘 {logits.numel():,}개 중 {truth}개만 남깁니다.",
         f"Right: top_p={top_p} keeps {truth} of the {logits.numel():,} tokens."),
        (f"{josa(_shown(answer), '이/가')} 아닙니다. 확률을 큰 순서로 정렬해 누적합을 구하고, 누적합이 {top_p}에 닿는 토큰까지 셉니다"
         "(그 토큰도 포함).",
         f"Not {_shown(answer)}. Sort the probabilities from largest, take the running sum, and count up to and "
         f"including the token where it reaches {top_p}."),
    )


def _finite_count(scores) -> int:
    """Number of tokens a logits processor left in play (not set to -inf); notebook 05."""
    import torch

    return int(torch.isfinite(scores).sum())


@self_check
def generation_batched_left_padding(answer, prompts: list[str], model, tokenizer, max_new_tokens: int) -> CheckResult:
    """Exercise 05.3: one batched greedy call whose new texts equal generating each prompt alone."""
    if answer is None:
        return not_answered("`batch_texts`에 프롬프트별 새 텍스트 목록을 넣으세요.",
                            "put the list of new texts, one per prompt, into `batch_texts`.")
    import torch

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


# --------------------------------------------------------------------------
# Notebook 06: prompting and in-context learning
# --------------------------------------------------------------------------


@self_check
def prompting_token_count(answer, prompt: str, tokenizer, context_window: int) -> CheckResult:
    """Exercise 06.1: the number of tokens of ``prompt`` (as the model reads it)."""
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
        _wrong(answer, *hint),
    )


_PROMPTING_TRUTHS: dict = {}  # (exercise, model, tokenizer, reviews) -> recomputed answer


def _share_positive(model, tokenizer, shots_used, test, key) -> float:
    from .prompting import classify, few_shot_prompt

    if key not in _PROMPTING_TRUTHS:
        predictions = classify(model, tokenizer, [few_shot_prompt(r.text, list(shots_used)) for r in test])
        _PROMPTING_TRUTHS[key] = sum(p == "positive" for p in predictions) / len(predictions)
    return _PROMPTING_TRUTHS[key]


def _label_words_truth(model, tokenizer, shots, test) -> float:
    from .prompting import accuracy, classify, few_shot_prompt

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
        (f"{josa(_shown(answer), '은/는')} 다시 계산한 값과 다릅니다. 부정 예시 두 개(`shots`에서 label이 'negative'인 처음 두 개)로 "
         "`prompting.few_shot_prompt`를 만들고, `prompting.classify`의 예측 중 'positive'의 비율을 구하세요.",
         f"{_shown(answer)} differs from the recomputed value. Build prompts with `prompting.few_shot_prompt` from the "
         "first two shots labelled 'negative', then take the share of 'positive' in `prompting.classify`'s predictions."),
    )


@self_check
def prompting_label_words(answer, model, tokenizer, shots, test) -> CheckResult:
    """Exercise 06.3: 4-shot accuracy when the labels are written ' good' / ' bad'."""
    if answer is None:
        return not_answered("`good_bad_accuracy`에 정확도(0~1)를 넣으세요.",
                            "set `good_bad_accuracy` to the accuracy (0 to 1).")
    value = as_fraction(answer)
    truth = _label_words_truth(model, tokenizer, shots, test)
    return check(
        abs(value - truth) < 0.5 / len(test),
        (f"맞습니다. ' good' / ' bad'로 쓴 4샷 정확도는 {truth:.1%}입니다. 위의 ' positive' / ' negative'와 비교해 보세요.",
         f"Right: with ' good' / ' bad' the 4-shot accuracy is {truth:.1%}. Compare it with ' positive' / ' negative' above."),
        (f"{josa(_shown(answer), '은/는')} 다시 계산한 값과 다릅니다. 예시와 점수 매기기 양쪽 모두 레이블 단어를 바꿨는지 확인하세요: "
         "`label_names={'positive': 'good', 'negative': 'bad'}`, `label_words=(' good', ' bad')`.",
         f"{_shown(answer)} differs from the recomputed value. Change the label words in both places: the shots "
         "(`label_names={'positive': 'good', 'negative': 'bad'}`) and the scoring (`label_words=(' good', ' bad')`)."),
    )


# --------------------------------------------------------------------------
# Notebook 07: chat templates
# --------------------------------------------------------------------------


@self_check
def chat_prompt_ids(answer, tokenizer, messages) -> CheckResult:
    """Exercise 07.1: the token ids of ``messages``, ready for ``generate`` (generation prompt, no doubled special tokens)."""
    if answer is None:
        return not_answered("`my_ids`에 대화를 토큰 ID 목록으로 만들어 넣으세요.",
                            "put the conversation's token ids (a list of ints) into `my_ids`.")
    if hasattr(answer, "keys") and "input_ids" in answer:  # a BatchEncoding: its ids are what is asked for
        answer = answer["input_ids"]
    answer = as_int_list(answer)
    truth = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                          return_dict=True)["input_ids"]
    no_prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=False, tokenize=True,
                                              return_dict=True)["input_ids"]
    if list(answer) == truth:
        return check(True, (f"맞습니다. 생성 프롬프트까지 포함해 토큰 {len(truth)}개입니다.",
                            f"Right: {len(truth)} tokens, generation prompt included."), ("", ""))
    if list(answer) == no_prompt:
        hint = ("끝에 assistant 차례를 여는 생성 프롬프트가 없습니다. `add_generation_prompt=True`를 넣으세요.",
                "The generation prompt that opens the assistant's turn is missing: add `add_generation_prompt=True`.")
    elif len(answer) > len(truth) and list(answer[-len(truth):]) == truth:
        hint = ("앞에 특수 토큰이 한 번 더 붙었습니다. 템플릿이 이미 넣었으니 `add_special_tokens=False`로 토큰화하세요.",
                "A special token was added a second time at the start: the template already put it there; "
                "tokenize with `add_special_tokens=False`.")
    else:
        hint = ("정답과 다릅니다. `tokenizer.apply_chat_template(messages, add_generation_prompt=True, "
                "return_dict=True)[\"input_ids\"]`를 살펴보세요.",
                "Not the expected ids. Look at `tokenizer.apply_chat_template(messages, add_generation_prompt=True, "
                "return_dict=True)[\"input_ids\"]`.")
    return check(False, ("", ""), hint)


@self_check
def chat_next_messages(answer, history, reply: str, question: str) -> CheckResult:
    """Exercise 07.2: the conversation for the next turn: history, the assistant's reply, then the new question."""
    if answer is None:
        return not_answered("`next_messages`에 다음 차례의 대화 목록을 넣으세요.",
                            "put the conversation for the next turn into `next_messages`.")
    from .chat import validate_messages

    try:
        answer = validate_messages(answer)
    except ValueError as err:
        return check(False, ("", ""), (f"대화 형식이 올바르지 않습니다: {err}",
                                       f"The conversation is not well formed: {err}"))
    truth = validate_messages(history) + [{"role": "assistant", "content": reply},
                                          {"role": "user", "content": question}]
    if answer == truth:
        return check(True, (f"맞습니다. 메시지 {len(truth)}개, assistant의 답 다음에 새 질문이 옵니다.",
                            f"Right: {len(truth)} messages; the assistant's reply, then the new question."),
                     ("", ""))
    if answer[-1:] == truth[-1:] and len(answer) == len(truth) - 1:
        hint = ("assistant의 답이 빠졌습니다. 모델은 지난 답을 기억하지 못하니, 대화 목록에 직접 넣어야 합니다.",
                "The assistant's reply is missing: the model remembers nothing, so the list must carry it.")
    elif answer[-1]["role"] != "user":
        hint = ("마지막 메시지는 새 질문(role 'user')이어야 합니다.",
                "The last message must be the new question (role 'user').")
    else:
        hint = ("순서를 확인하세요: 지금까지의 대화, {'role': 'assistant', ...}, {'role': 'user', ...}.",
                "Check the order: the conversation so far, {'role': 'assistant', ...}, {'role': 'user', ...}.")
    return check(False, ("", ""), hint)


@self_check
def chat_template_no_default_system(answer, tokenizer) -> CheckResult:
    """Exercise 07.3: a Jinja chat template that renders ChatML like the model's own, minus the default system prompt."""
    if answer is None:
        return not_answered("`my_template`에 Jinja 템플릿 문자열을 넣으세요.",
                            "put your Jinja template string into `my_template`.")
    if not isinstance(answer, str):
        return check(False, ("", ""), ("템플릿은 문자열이어야 합니다.", "The template must be a string."))
    user = [{"role": "user", "content": "Hi!"}]
    cases = [
        ([{"role": "system", "content": "Be brief."}, *user, {"role": "assistant", "content": "Hello."},
          {"role": "user", "content": "Bye."}], True),
        ([{"role": "system", "content": "Be brief."}, *user], False),
    ]
    try:
        for messages, gen in cases:
            want = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=gen)
            got = tokenizer.apply_chat_template(messages, chat_template=answer, tokenize=False,
                                                add_generation_prompt=gen)
            if got != want:
                return check(False, ("", ""),
                             (f"시스템 메시지가 있는 대화(add_generation_prompt={gen})에서 원래 템플릿과 다릅니다.\n"
                              f"   원래: {want!r}\n   내 것: {got!r}",
                              f"With a system message (add_generation_prompt={gen}) it differs from the model's "
                              f"template.\n   expected: {want!r}\n   yours:    {got!r}"))
        want = "<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n"
        got = tokenizer.apply_chat_template(user, chat_template=answer, tokenize=False, add_generation_prompt=True)
    except Exception as err:  # a Jinja syntax error is the learner's to fix, not a crash
        return check(False, ("", ""), (f"템플릿을 실행할 수 없습니다: {type(err).__name__}: {err}",
                                       f"The template does not run: {type(err).__name__}: {err}"))
    return check(
        got == want,
        ("맞습니다. 시스템 메시지가 없으면 아무것도 끼워 넣지 않고, 나머지는 원래 템플릿과 똑같습니다.",
         "Right: nothing is inserted without a system message, and everything else matches the model's template."),
        (f"시스템 메시지가 없을 때 결과가 {want!r}이어야 하는데 {got!r}입니다.",
         f"Without a system message it should give {want!r}, not {got!r}."),
    )


# --------------------------------------------------------------------------
# Notebook 04: the transformer block
# --------------------------------------------------------------------------


@self_check
def transformer_mlp_params(answer, model) -> CheckResult:
    """Exercise 04.1: the number of parameters of one layer's gated MLP, from the config."""
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


@self_check
def transformer_mlp_by_hand(answer, model, inputs, layer: int, position: int = -1) -> CheckResult:
    """Exercise 04.2: one position's MLP output of ``layer``, computed by hand, against the library's MLP."""
    if answer is None:
        return not_answered(f"`my_mlp_out`에 층 {layer} MLP의 출력(마지막 위치)을 직접 계산해 넣으세요.",
                            f"compute layer {layer}'s MLP output at the last position into `my_mlp_out`.")
    from .transformer import check_layer

    check_layer(model, layer)
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


def _close_rel(a, b, rtol: float = 1e-5) -> bool:
    """True when two tensors of the same shape agree to ``rtol`` of the larger one's scale (notebook 04's checks)."""
    if tuple(a.shape) != tuple(b.shape):
        return False
    scale = max(float(a.abs().max()), float(b.abs().max()), 1.0)
    return float((a - b).abs().max()) <= rtol * scale


_LENS_TRUTHS: dict = {}  # (model id, prompt) -> (settled layer, top token id)


@self_check
def transformer_settled_layer(answer, model, tokenizer, prompt) -> CheckResult:
    """Exercise 04.3: after how many layers the logit lens's top token at the last position is final for good."""
    from .transformer import encode_prompt, logit_lens, residual_stream, settled_layer

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


# --------------------------------------------------------------------------
# Notebook 08: quantization and memory
# --------------------------------------------------------------------------


def _within(value: float, truth: float, rel: float) -> bool:
    return abs(value - truth) <= rel * abs(truth)


@self_check
def memory_model_weights(answer_gb, config, dtype: str = "bfloat16") -> CheckResult:
    """Exercise 08.1: the weights' memory, in GB, of the model ``config`` describes, in ``dtype``."""
    if answer_gb is None:
        return not_answered("`weights_gb`에 가중치 메모리(GB)를 계산해 넣으세요.",
                            "compute the weights' memory in GB into `weights_gb`.")
    from . import memory

    value = as_number(answer_gb, unit="GB")
    n_params = memory.count_parameters(memory.build_on_meta(config))
    per = memory.bytes_per_parameter(dtype, include_scales=False)
    truth = n_params * per / 1e9
    if _within(value, n_params / 1e9, 0.01) and per != 1:
        hint = (f"{josa(f'{value:g}', '은/는')} 파라미터 수(십억 개)입니다. 파라미터 하나가 {per:g}바이트이니 곱하세요.",
                f"{value:g} is the number of parameters in billions; multiply by {per:g} bytes per parameter.")
    elif _within(value, truth * 1e9, 0.01) or _within(value, truth * 1e3, 0.01):
        hint = ("단위를 확인하세요. 1 GB는 1e9 바이트입니다.", "Check the unit: 1 GB is 1e9 bytes.")
    else:
        hint = (f"{josa(f'{value:g} GB', '이/가')} 아닙니다. `memory.build_on_meta(config)`로 파라미터를 세고, {dtype}의 "
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
def memory_kv_cache(answer_gb, config, seq_len: int, dtype: str = "bfloat16") -> CheckResult:
    """Exercise 08.2: the KV cache, in GB, of one sequence of ``seq_len`` tokens for ``config`` in ``dtype``."""
    if answer_gb is None:
        return not_answered("`kv_gb`에 KV 캐시 크기(GB)를 계산해 넣으세요.",
                            "compute the KV cache's size in GB into `kv_gb`.")
    from . import memory

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
        hint = (f"{josa(f'{value:g} GB', '이/가')} 아닙니다. 층 수 × 2 × 키/값 헤드 수 × head_dim × 토큰 수 × 바이트 ÷ 1e9입니다.",
                f"Not {value:g} GB. It is layers × 2 × key/value heads × head_dim × tokens × bytes ÷ 1e9.")
    return check(
        _within(value, truth, 0.01),
        (f"맞습니다. {seq_len:,}토큰의 KV 캐시는 {truth:.2f} GB입니다. 가중치와 따로 드는 메모리입니다.",
         f"Right: the KV cache of {seq_len:,} tokens takes {truth:.2f} GB, on top of the weights."),
        hint,
    )


@self_check
def memory_tokens_per_second(answer, bandwidth_gb_s: float, n_params: float, dtype: str = "int8") -> CheckResult:
    """Exercise 08.3: the bandwidth ceiling of decoding, in tokens/s, for ``n_params`` weights in ``dtype``."""
    if answer is None:
        return not_answered("`predicted_tps`에 예상 초당 토큰 수를 넣으세요.",
                            "put the predicted tokens per second into `predicted_tps`.")
    from . import memory

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


@self_check
def memory_absmax_by_hand(answer, values) -> CheckResult:
    """Exercise 08.4: the int8 codes of ``values`` under absmax quantization (one scale for all)."""
    if answer is None:
        return not_answered("`my_codes`에 int8 코드 목록을 넣으세요.",
                            "put the list of int8 codes into `my_codes`.")
    import torch

    from . import memory

    x = torch.tensor(values, dtype=torch.float32)
    truth = memory.absmax_quantize(x)[0].tolist()
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


# --------------------------------------------------------------------------
# Notebook 09: fine-tuning
# --------------------------------------------------------------------------


def _blocks_of(answer):
    """A list of blocks (lists of ints) from a list of lists, or from group_texts' dict via its "input_ids"."""
    if isinstance(answer, dict):
        if "input_ids" not in answer:
            raise AnswerProblem("딕셔너리라면 \"input_ids\" 열이 있어야 합니다.",
                                "A dict answer needs an \"input_ids\" column.")
        answer = answer["input_ids"]
    if hasattr(answer, "tolist"):
        answer = answer.tolist()
    if not isinstance(answer, (list, tuple)) or not all(isinstance(b, (list, tuple)) for b in answer):
        raise AnswerProblem("블록의 목록이 필요합니다. 예: [[11, 12, 13, 21], [22, 23, 24, 25]]",
                            "A list of blocks is needed, for example [[11, 12, 13, 21], [22, 23, 24, 25]].")
    return [as_int_list(list(b)) for b in answer]


@self_check
def finetune_group_texts(answer, examples, block_size: int) -> CheckResult:
    """Exercise 09.1: the input_ids blocks that ``group_texts`` makes of a toy batch."""
    if answer is None:
        return not_answered("`my_blocks`에 블록 목록을 넣으세요.", "put the list of blocks into `my_blocks`.")
    from .finetune import group_texts

    truth = group_texts(examples, block_size)["input_ids"]
    mine = _blocks_of(answer)
    if mine == truth:
        total = sum(len(r) for r in examples["input_ids"])
        return check(True, (f"맞습니다. {total}토큰을 이어 붙여 {block_size}개씩 {len(truth)}블록을 만들고, "
                            f"나머지 {total - len(truth) * block_size}토큰은 버립니다.",
                            f"Right: {total} tokens joined, cut into {len(truth)} blocks of {block_size}, "
                            f"and the remaining {total - len(truth) * block_size} dropped."), ("", ""))
    stream = [t for row in examples["input_ids"] for t in row]
    with_rest = [stream[i: i + block_size] for i in range(0, len(stream), block_size)]
    per_row = [row[i: i + block_size] for row in examples["input_ids"] for i in range(0, len(row), block_size)]
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
    if answer is None:
        return not_answered("`my_perplexity`에 퍼플렉서티를 넣으세요.", "put the perplexity into `my_perplexity`.")
    value = as_number(answer)
    truth = math.exp(loss)
    if math.isclose(value, truth, rel_tol=1e-3):
        return check(True, (f"맞습니다. exp({loss}) = {truth:.3f}: 토큰마다 평균 {truth:.1f}개 후보 사이에서 망설이는 셈입니다.",
                            f"Right: exp({loss}) = {truth:.3f}, as if hesitating between {truth:.1f} candidates "
                            "per token."), ("", ""))
    if math.isclose(value, 2 ** loss, rel_tol=1e-3):
        hint = ("2의 거듭제곱을 썼습니다. transformers의 손실은 자연로그(nat) 단위이므로 `math.exp`를 씁니다.",
                "That is 2 to the power: transformers' loss is in nats (natural log), so use `math.exp`.")
    elif math.isclose(value, loss, rel_tol=1e-3):
        hint = ("손실 그대로입니다. 퍼플렉서티는 손실의 지수, exp(loss)입니다.",
                "That is the loss itself; perplexity is its exponential, exp(loss).")
    else:
        hint = (f"{josa(_shown(answer), '은/는')} 아닙니다. 힌트: `math.exp(eval_loss)`",
                f"{_shown(answer)} is not it. Hint: `math.exp(eval_loss)`")
    return check(False, ("", ""), hint)


@self_check
def finetune_lora_count(answer, model, r: int, target_modules) -> CheckResult:
    """Exercise 09.3: parameters LoRA of rank ``r`` adds on ``target_modules`` (formula over the model's linear layers)."""
    if answer is None:
        return not_answered("`my_lora_count`에 LoRA 파라미터 수를 넣으세요.",
                            "put the number of LoRA parameters into `my_lora_count`.")
    from .finetune import _linear_layers, lora_parameter_count

    value = as_integer(answer)
    truth = lora_parameter_count(model, r=r, target_modules=target_modules)
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
    if answer is None:
        return not_answered("`my_labels`에 labels 목록을 넣으세요.", "put the list of labels into `my_labels`.")
    full_ids, prompt_ids = list(full_ids), list(prompt_ids)
    if full_ids[: len(prompt_ids)] != prompt_ids:
        raise AnswerProblem("이 대화에서는 full_ids가 prompt_ids로 시작하지 않아 채점할 수 없습니다.",
                            "full_ids does not start with prompt_ids here, so this cannot be checked.")
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
    if math.isclose(value, 16 * n_params / 2**30, rel_tol=0.01):
        return check(False, ("", ""), ("GiB(2³⁰)로 나눴습니다. 여기서 GB는 10⁹ 바이트입니다.",
                                       "That divides by 2³⁰ (GiB); GB here is 10⁹ bytes."))
    return check(False, ("", ""), (f"{josa(_shown(answer_gb), '은/는')} 아닙니다. 파라미터당 16바이트, 1 GB = 10⁹ 바이트.",
                                   f"{_shown(answer_gb)} is not it: 16 bytes per parameter, 1 GB = 10⁹ bytes."))
