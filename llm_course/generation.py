"""Text generation written out step by step (introduced in notebook 05).

A causal language model gives, for every position, scores (``logits``) over
the whole vocabulary for the *next* token. Generating text is a loop around
that one forward pass: pick a token from the last position's distribution,
append it, run the model again. ``model.generate`` is that loop plus many
options; this module writes the pieces out by hand so a learner can see them,
and the course's tests check each piece against transformers' own code:

* :func:`greedy_decode`, the loop itself, equal token for token to
  ``model.generate(do_sample=False)``;
* :func:`apply_temperature`, :func:`top_k_filter`, :func:`top_p_filter`, equal
  to ``TemperatureLogitsWarper``, ``TopKLogitsWarper`` and ``TopPLogitsWarper``
  (applied in that order, as ``generate`` does);
* :func:`repeated_ngram_share`, a measure of how much a text repeats itself;
* :func:`continue_prompt`, ``generate`` after one prompt returning only the new
  token ids: notebook 05 runs the same call for SmolLM2 in English and for
  Gemma 3 in Korean;
* :func:`generate_text`, the small pure function behind notebook 05's
  playground widget, which checks its arguments and decodes only the new tokens.

Bad settings raise a ``ValueError`` that names the valid range and what to do
instead (``temperature=0`` with sampling: use greedy decoding).
"""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from collections.abc import Iterator, Sequence

import torch

from .i18n import bilingual

# --------------------------------------------------------------------------
# Checking the settings
# --------------------------------------------------------------------------


def check_max_new_tokens(max_new_tokens) -> int:
    """``max_new_tokens`` must be a whole number of at least 1 (notebook 05)."""
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise ValueError(bilingual(
            f"max_new_tokens는 1 이상의 정수(프롬프트 뒤에 새로 붙일 토큰 수)여야 합니다. 들어온 값: {max_new_tokens!r}. "
            "max_new_tokens=30을 써 보세요.",
            f"max_new_tokens must be a whole number >= 1 (the number of tokens to add after the prompt); "
            f"got {max_new_tokens!r}. Try max_new_tokens=30."))
    return max_new_tokens


def check_temperature(temperature, do_sample: bool = True) -> float:
    """``temperature`` must be > 0 when sampling; greedy decoding ignores it (notebook 05)."""
    try:
        value = float(temperature)
    except (TypeError, ValueError):
        raise ValueError(bilingual(f"temperature는 0보다 큰 숫자여야 합니다. 들어온 값: {temperature!r}",
                                   f"temperature must be a number > 0; got {temperature!r}.")) from None
    if do_sample and not value > 0:
        raise ValueError(bilingual(
            f"샘플링할 때 temperature는 0보다 커야 합니다(보통 0.1~2.0). 들어온 값: {temperature!r}. "
            "temperature 0은 '늘 가장 그럴듯한 토큰'이라는 뜻이니, 그럴 때는 탐욕적 디코딩(do_sample=False)을 쓰세요.",
            f"temperature must be > 0 when sampling (valid range: temperature > 0, usually 0.1-2.0); "
            f"got {temperature!r}. Temperature 0 would mean 'always the most likely token': for that, "
            "use greedy decoding (do_sample=False) instead."))
    if not math.isfinite(value):
        raise ValueError(bilingual(f"temperature는 0보다 큰 유한한 숫자여야 합니다. 들어온 값: {temperature!r}",
                                   f"temperature must be a finite number > 0; got {temperature!r}."))
    return value


def check_top_k(top_k) -> int | None:
    """``top_k`` is ``None``/0 (off) or a whole number >= 1 (notebook 05)."""
    if top_k is None or (top_k == 0 and not isinstance(top_k, bool)):
        return None
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(bilingual(
            f"top_k는 1 이상의 정수(확률이 높은 토큰 k개만 남김)이거나, 끄려면 0 또는 None이어야 합니다. 들어온 값: {top_k!r}",
            f"top_k must be a whole number >= 1 (keep the k most likely tokens), or 0/None to switch it off; "
            f"got {top_k!r}."))
    return top_k


def check_top_p(top_p) -> float:
    """``top_p`` must lie in (0, 1]; 1.0 switches it off (notebook 05)."""
    try:
        value = float(top_p)
    except (TypeError, ValueError):
        raise ValueError(bilingual(f"top_p는 0보다 크고 1 이하인 숫자여야 합니다. 들어온 값: {top_p!r}",
                                   f"top_p must be a number in (0, 1]; got {top_p!r}.")) from None
    if not 0.0 < value <= 1.0:
        raise ValueError(bilingual(
            f"top_p는 0보다 크고 1 이하여야 합니다(1.0이면 꺼짐). 들어온 값: {top_p!r}. top_p=0.9를 써 보세요.",
            f"top_p must be in the range (0, 1] (greater than 0, at most 1; 1.0 switches it off); got {top_p!r}. "
            "Try top_p=0.9."))
    return value


# --------------------------------------------------------------------------
# The autoregressive loop
# --------------------------------------------------------------------------


@torch.no_grad()
def greedy_decode(model, input_ids: torch.Tensor, max_new_tokens: int,
                  eos_token_id: int | Sequence[int] | None = None) -> torch.Tensor:
    """Greedy decoding written out by hand (notebook 05).

    ``input_ids`` has shape ``(1, seq_len)``. Each step runs the model on the
    whole sequence so far (no KV cache, to keep the loop plain), takes the
    most likely next token at the last position and appends it; the loop
    stops after ``max_new_tokens`` steps or right after an end-of-sequence
    token. Returns prompt + new tokens, like ``model.generate``.
    """
    check_max_new_tokens(max_new_tokens)
    if input_ids.dim() != 2 or input_ids.shape[0] != 1:
        raise ValueError(bilingual(f"greedy_decode는 (1, seq_len) 모양의 시퀀스 하나를 받습니다. 들어온 모양: {tuple(input_ids.shape)}",
                                   f"greedy_decode takes one sequence of shape (1, seq_len); got {tuple(input_ids.shape)}."))
    stop = {eos_token_id} if isinstance(eos_token_id, int) else set(eos_token_id or ())
    ids = input_ids.to(model.device)  # inputs follow the model (a GPU on Colab)
    for _ in range(max_new_tokens):
        logits = model(input_ids=ids).logits            # (1, seq_len, vocab_size)
        next_id = logits[:, -1, :].argmax(dim=-1)       # (1,): the last position predicts the next token
        ids = torch.cat([ids, next_id[:, None]], dim=1)  # (1, seq_len + 1)
        if next_id.item() in stop:
            break
    return ids


# --------------------------------------------------------------------------
# Reshaping the distribution: temperature, top-k, top-p
# --------------------------------------------------------------------------


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Divide the logits by ``temperature`` (notebook 05): < 1 sharpens the distribution, > 1 flattens it."""
    return logits / check_temperature(temperature)


def top_k_filter(logits: torch.Tensor, top_k: int | None) -> torch.Tensor:
    """Keep the ``top_k`` highest logits (ties with the k-th kept too), set the rest to -inf (notebook 05)."""
    k = check_top_k(top_k)
    if k is None:
        return logits
    k = min(k, logits.shape[-1])
    kth_best = torch.topk(logits, k, dim=-1).values[..., -1:]  # (..., 1)
    return logits.masked_fill(logits < kth_best, float("-inf"))


def top_p_filter(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Nucleus filtering (notebook 05): keep the most likely tokens until their probability adds up to ``top_p``.

    A token is kept when the tokens more likely than it hold less than
    ``top_p`` of the probability, so the token that crosses the line is kept
    and at least one token always survives.
    """
    p = check_top_p(top_p)
    if p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    sorted_probs = sorted_logits.softmax(dim=-1)
    mass_before = sorted_probs.cumsum(dim=-1) - sorted_probs  # probability of the tokens ranked above
    remove_sorted = mass_before >= p
    remove_sorted[..., 0] = False
    remove = remove_sorted.scatter(-1, order, remove_sorted)  # back to vocabulary order
    return logits.masked_fill(remove, float("-inf"))


def process_logits(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                   top_p: float = 1.0) -> torch.Tensor:
    """Temperature, then top-k, then top-p: the order ``generate`` applies them in (notebook 05)."""
    return top_p_filter(top_k_filter(apply_temperature(logits, temperature), top_k), top_p)


def entropy_bits(probs: torch.Tensor) -> float:
    """Entropy of one probability distribution in bits (notebook 05): 0 for a sure token, higher when flatter."""
    p = probs[probs > 0]
    return float(-(p * p.log2()).sum())


def repeated_ngram_share(token_ids: Sequence[int] | torch.Tensor, n: int = 3) -> float:
    """Share of the text's n-grams that already appeared earlier in it (notebook 05).

    0.0 means no n-gram repeats; a text that loops on one phrase approaches 1.0.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(bilingual(f"n은 1 이상의 정수여야 합니다. 들어온 값: {n!r}", f"n must be a whole number >= 1; got {n!r}."))
    ids = token_ids.tolist() if isinstance(token_ids, torch.Tensor) else list(token_ids)
    grams = [tuple(ids[i:i + n]) for i in range(len(ids) - n + 1)]
    if not grams:
        return 0.0
    seen: set[tuple] = set()
    repeats = 0
    for g in grams:
        repeats += g in seen
        seen.add(g)
    return repeats / len(grams)


def top_tokens(probs: torch.Tensor, tokenizer, k: int = 10) -> list[tuple[str, float]]:
    """The ``k`` most likely tokens of a 1-D distribution as ``(text, probability)`` (notebook 05).

    Each token is shown quoted, as Python's ``repr`` writes it, so that the
    leading space of " Paris" and a newline ("\\n") stay visible.
    """
    values, ids = torch.topk(probs, min(k, probs.shape[-1]))
    out = []
    for p, i in zip(values.tolist(), ids.tolist()):
        out.append((repr(tokenizer.decode([i])), p))
    return out


# --------------------------------------------------------------------------
# The playground's generate function
# --------------------------------------------------------------------------


@contextlib.contextmanager
def captured_warnings() -> Iterator[list[str]]:
    """Collect the warnings transformers gives during a block instead of printing them (notebook 05).

    transformers warns in two ways, Python ``warnings`` and its own logger; both
    end up in the yielded list, so a notebook can show them as ordinary output.
    """
    messages: list[str] = []

    class _ListHandler(logging.Handler):
        def emit(self, record):
            messages.append(record.getMessage())

    logger = logging.getLogger("transformers")
    handler = _ListHandler(level=logging.WARNING)
    saved = logger.handlers[:]
    logger.handlers = [handler]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield messages
        messages.extend(str(w.message) for w in caught)
    finally:
        logger.handlers = saved


def continue_prompt(model, tokenizer, prompt: str, *, max_new_tokens: int = 60, **generate_kwargs) -> torch.Tensor:
    """The new token ids ``model.generate`` writes after ``prompt``, shape ``(new_len,)`` (notebook 05).

    The prompt is tokenized the tokenizer's usual way, so a tokenizer that puts
    a beginning-of-sequence token in front (Gemma 3's ``<bos>``) does so here
    too; the ids follow ``model.device``. ``generate_kwargs`` go to
    ``generate`` as they are (``do_sample``, ``temperature``, ``top_k``,
    ``repetition_penalty``, ...); set the seed before a sampled call.
    """
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError(bilingual("프롬프트가 비어 있습니다. 모델이 이어 쓸 글을 입력하세요.",
                                   "prompt must be a non-empty string; type something for the model to continue."))
    check_max_new_tokens(max_new_tokens)
    generate_kwargs.setdefault("pad_token_id", tokenizer.pad_token_id)
    enc = tokenizer(prompt, return_tensors="pt").to(model.device)
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=max_new_tokens, **generate_kwargs)
    return out[0, enc["input_ids"].shape[1]:]  # drop the prompt: (new_len,)


def generate_text(model, tokenizer, prompt: str, *, max_new_tokens: int = 30, do_sample: bool = True,
                  temperature: float = 1.0, top_k: int | None = None, top_p: float = 1.0,
                  seed: int | None = 0) -> str:
    """Generate after ``prompt`` with ``model.generate`` and return only the new text (notebook 05's playground).

    ``top_k=None`` (or 0) switches top-k off; note that ``generate`` itself
    uses ``top_k=50`` when you do not say. With ``do_sample=False`` the
    sampling settings are ignored and the result is greedy. ``seed`` makes
    sampling reproducible (``transformers.set_seed``).
    """
    from transformers import set_seed

    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError(bilingual("프롬프트가 비어 있습니다. 모델이 이어 쓸 글을 입력하세요.",
                                   "prompt must be a non-empty string; type something for the model to continue."))
    check_max_new_tokens(max_new_tokens)
    settings: dict = {"do_sample": bool(do_sample)}
    if do_sample:
        settings.update(temperature=check_temperature(temperature), top_k=check_top_k(top_k) or 0,
                        top_p=check_top_p(top_p))
    if seed is not None:
        set_seed(int(seed))
    new_ids = continue_prompt(model, tokenizer, prompt, max_new_tokens=max_new_tokens, **settings)
    return tokenizer.decode(new_ids, skip_special_tokens=True)


def trim_partial_character(text: str) -> tuple[str, bool]:
    """``text`` without a broken last character, and whether one was cut (notebook 05's playground).

    A byte-level model spends up to three tokens on one Hangul syllable, so a
    generation stopped by ``max_new_tokens`` can end inside a syllable; its
    incomplete bytes decode to "�" (U+FFFD). They are dropped here rather than
    shown as a broken character.
    """
    trimmed = text.rstrip("\ufffd")
    return trimmed, trimmed != text
