"""One measure of how well a model predicts a text, shared by notebooks 08 and 09.

:class:`Perplexity` holds the total negative log-likelihood (in nats) over the
predicted tokens and, where the text is known, its length in characters and
UTF-8 bytes. Per-token perplexity depends on the tokenizer; bits per character
or byte measure the text itself, so they compare languages and tokenizers.
Notebook 08 fills it from a sliding window (``perplexity.text_perplexity``),
notebook 09 from grouped blocks (``finetune.perplexity``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .i18n import bilingual
from .validation import positive_int


@dataclass(frozen=True)
class Perplexity:
    """``nll`` nats over ``n_tokens`` predicted tokens (and, if known, the text's characters and bytes)."""

    nll: float  # total negative log-likelihood in nats
    n_tokens: int  # tokens predicted
    characters: int | None = None
    utf8_bytes: int | None = None
    windows: int | None = None  # how many windows of the sliding window scored it (notebook 08)

    @property
    def loss(self) -> float:
        """Mean cross-entropy in nats per token: what ``Trainer.evaluate()`` reports as ``eval_loss``."""
        return self.nll / self.n_tokens

    @property
    def perplexity(self) -> float:
        return math.exp(self.loss)

    @property
    def bits_per_token(self) -> float:
        return self.loss / math.log(2)

    @property
    def bits_per_character(self) -> float:
        return self.nll / math.log(2) / _known(self.characters, "characters")

    @property
    def bits_per_byte(self) -> float:
        return self.nll / math.log(2) / _known(self.utf8_bytes, "utf8_bytes")


def _known(value: int | None, name: str) -> int:
    if not value:
        raise ValueError(bilingual(f"이 측정에는 글의 길이({name})가 없습니다. perplexity.text_perplexity로 재면 함께 기록됩니다.",
                                   f"This measurement has no text length ({name}); perplexity.text_perplexity records it."))
    return value


# --------------------------------------------------------------------------
# Perplexity of a fixed text, with a sliding window (notebook 08)
# --------------------------------------------------------------------------


def sliding_window_nll(model, input_ids: torch.Tensor, *, max_length: int = 128, stride: int = 64):
    """Total negative log-likelihood (nats) of ``input_ids[0, 1:]``, scored window by window (notebook 08).

    A text longer than the window is read in windows of ``max_length``
    tokens that start every ``stride`` tokens; each window scores only the
    tokens no earlier window scored, so every token is predicted exactly once,
    with at least ``max_length - stride`` tokens of context once the text is
    long enough. ``stride`` must be smaller than ``max_length``: a window needs
    one token of its own before the first token it scores. Returns
    ``(nll_sum, n_predicted, n_windows)``; perplexity is
    ``exp(nll_sum / n_predicted)``. ``input_ids`` has shape ``(1, seq_len)``.
    """
    max_length = positive_int(max_length, "max_length", "창 길이")
    stride = positive_int(stride, "stride", "보폭")
    if stride >= max_length:
        raise ValueError(bilingual(
            f"보폭(stride {stride})은 창 길이(max_length {max_length})보다 작아야 합니다 (1 ~ {max_length - 1}). "
            "창마다 채점할 토큰 앞에 문맥 토큰이 하나는 있어야 합니다.",
            f"stride ({stride}) must be smaller than max_length ({max_length}), from 1 to {max_length - 1}: "
            "each window needs a token of context before the first token it scores."))
    input_ids = input_ids.to(model.device)
    seq_len = input_ids.shape[1]
    nll_sum, n_predicted, n_windows, scored_until = 0.0, 0, 0, 1  # position 0 has nothing before it
    for begin in range(0, seq_len, stride):
        end = min(begin + max_length, seq_len)
        new = end - scored_until  # targets not scored by an earlier window
        window = input_ids[:, begin:end]  # (1, window_len)
        with torch.no_grad():
            # logits_to_keep: the output layer runs only where it predicts a new target
            logits = model(window, logits_to_keep=new + 1).logits[:, :-1]  # (1, new, vocab_size)
        log_probs = torch.log_softmax(logits.float(), dim=-1)
        targets = window[:, -new:]  # (1, new)
        nll_sum -= float(log_probs.gather(-1, targets[..., None]).sum())
        n_predicted += new
        n_windows += 1
        scored_until = end
        if end == seq_len:
            break
    return nll_sum, n_predicted, n_windows




HELDOUT_FILES = {"ko": "heldout_ko.txt", "en": "heldout_en.txt"}


def heldout_text(lang: str) -> str:
    """The course-written held-out text of ``lang`` (``"ko"`` or ``"en"``) from ``assets/`` (notebook 08).

    Written for this lesson and used by no other, so no model was trained on it
    and no lesson tunes anything on it. Comment lines (``#``) are dropped.
    """
    from . import asset_path

    if lang not in HELDOUT_FILES:
        raise ValueError(bilingual(f"언어는 {' 또는 '.join(map(repr, HELDOUT_FILES))} 중 하나입니다 (받은 값: {lang!r}).",
                                   f"lang must be one of {', '.join(map(repr, HELDOUT_FILES))} (got {lang!r})."))
    lines = asset_path(HELDOUT_FILES[lang]).read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if line.strip() and not line.startswith("#"))


def text_ids(tokenizer, text: str) -> torch.Tensor:
    """``text`` as ``(1, seq_len)`` input ids after one start token, so every token of the text is scored (notebook 08).

    The start token is the tokenizer's ``bos_token`` (for SmolLM2
    ``<|im_start|>``), or its ``eos_token`` when it has no bos.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(bilingual("점수를 매길 글이 비어 있습니다. 문자열을 넣으세요.",
                                   "The text to score is empty; pass a string."))
    start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return torch.tensor([[start, *ids]])


def text_perplexity(model, tokenizer, text: str, *, max_length: int = 128, stride: int = 64) -> Perplexity:
    """Perplexity, bits per character and bits per UTF-8 byte of ``model`` on ``text`` (notebook 08).

    Perplexity per token depends on the tokenizer: a Hangul syllable that
    takes three byte-level tokens, two of them easy to guess, lowers it. Bits
    per character or byte measure the text itself, so they compare languages
    and tokenizers.
    """
    nll, n, windows = sliding_window_nll(model, text_ids(tokenizer, text), max_length=max_length, stride=stride)
    return Perplexity(nll=nll, n_tokens=n, characters=len(text), utf8_bytes=len(text.encode("utf-8")),
                      windows=windows)
