"""Self-checks of notebook 01 (tokenization): ``tokenization_*``."""

from __future__ import annotations

from .core import (AnswerProblem, CheckResult, as_integer, check, not_answered, reference_int, reference_text,
                   reference_texts, reference_tokenizer, self_check, type_en, wrong)


def _paragraph(text, name: str) -> str:
    """One of the learner's own paragraphs (exercise 01.1): a non-empty string, or an AnswerProblem."""
    if not isinstance(text, str) or not text.strip():
        raise AnswerProblem(f"문단을 먼저 채우세요: `{name}`에 글을 넣으세요.",
                            f"Fill in the paragraphs first: put some text into `{name}`.")
    return text


@self_check
def tokenization_paragraph_cost(answer, tokenizer, ko_text: str, en_text: str) -> CheckResult:
    """Exercise 01.1: ``{"ko": n, "en": m}``, the token counts of a paragraph in Korean and in English.

    The two paragraphs are the learner's own too, so an empty one gets a verdict, not an error.
    """
    from .. import tokens

    reference_tokenizer(tokenizer)
    if answer is None:
        return not_answered("`my_counts`에 {\"ko\": 한국어 토큰 수, \"en\": 영어 토큰 수}를 넣으세요.",
                            "set `my_counts` to {\"ko\": Korean token count, \"en\": English token count}.")
    texts = {"ko": _paragraph(ko_text, "my_ko_paragraph"), "en": _paragraph(en_text, "my_en_paragraph")}
    truth = {lang: tokens.count_tokens(tokenizer, text) for lang, text in texts.items()}
    if not isinstance(answer, dict) or set(answer) != {"ko", "en"}:
        raise AnswerProblem("답은 \"ko\"와 \"en\" 두 키를 가진 딕셔너리여야 합니다. 예: {\"ko\": 40, \"en\": 12}",
                            "The answer must be a dict with exactly the keys \"ko\" and \"en\", e.g. {\"ko\": 40, \"en\": 12}.")
    given = {lang: as_integer(answer[lang]) for lang in ("ko", "en")}
    ratio = truth["ko"] / truth["en"]
    return check(
        given == truth,
        (f"맞습니다. 한국어 {truth['ko']}개, 영어 {truth['en']}개, 한국어가 {ratio:.1f}배입니다.",
         f"Right: {truth['ko']} Korean tokens, {truth['en']} English ones; Korean costs {ratio:.1f}×."),
        wrong(answer, "힌트: `len(tokenizer(text, add_special_tokens=False)[\"input_ids\"])`",
              "Hint: `len(tokenizer(text, add_special_tokens=False)[\"input_ids\"])`"),
    )


@self_check
def tokenization_utf8_bytes(answer, text: str, tokenizer) -> CheckResult:
    """Exercise 01.2: the number of UTF-8 bytes of ``text``, the most tokens a byte-level BPE can need."""
    from .. import tokens

    reference_text(text, "text")
    reference_tokenizer(tokenizer)
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
        wrong(answer, *hint),
    )


@self_check
def tokenization_beat_cl100k(my_bpe, korean_sentences: list[str], reference_count: int,
                             max_vocab: int = 2000) -> CheckResult:
    """Exercise 01.3: a BPE of at most ``max_vocab`` tokens that needs fewer tokens than ``reference_count``.

    Every sentence must decode back to itself: a tokenizer that drops what it
    cannot encode (an untrained one gives no tokens at all) does not win.
    """
    from tokenizers import Tokenizer

    from .. import tokens

    korean_sentences = reference_texts(korean_sentences, "korean_sentences")
    reference_count = reference_int(reference_count, "reference_count", minimum=1)
    max_vocab = reference_int(max_vocab, "max_vocab", minimum=1)
    if my_bpe is None:
        return not_answered("`my_bpe`에 직접 학습한 tokenizers.Tokenizer를 넣으세요.",
                            "set `my_bpe` to a tokenizers.Tokenizer you trained.")
    if not isinstance(my_bpe, Tokenizer):
        raise AnswerProblem(f"`my_bpe`는 tokenizers.Tokenizer여야 합니다 (지금은 {type(my_bpe).__name__}).",
                            f"`my_bpe` must be a tokenizers.Tokenizer (it is {type_en(my_bpe)}).")
    vocab = my_bpe.get_vocab_size()
    if vocab > max_vocab:
        raise AnswerProblem(f"어휘가 {vocab}개입니다. {max_vocab}개 이하로 학습하세요.",
                            f"The vocabulary has {vocab} tokens; train one with at most {max_vocab}.")
    try:  # running the learner's tokenizer: whatever it raises is the answer's problem
        lost = [s for s in korean_sentences if my_bpe.decode(my_bpe.encode(s).ids) != s]
    except Exception as err:  # noqa: BLE001
        raise AnswerProblem(f"토크나이저가 문장을 토큰으로 나누지 못했습니다: {type(err).__name__}: {err}",
                            f"The tokenizer could not encode the sentences: {type(err).__name__}: {err}") from None
    if lost:
        raise AnswerProblem(f"토큰을 다시 글로 바꾸면 원래 문장이 나오지 않습니다: {lost[0]!r}. 5절의 `train_bpe`처럼 "
                            "바이트 수준으로 학습한 토크나이저를 넣으세요.",
                            f"Decoding the tokens does not give the sentence back: {lost[0]!r}. Use a byte-level "
                            "tokenizer trained as section 5's `train_bpe` does.")
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
