"""Prompting and in-context learning, measured (introduced in notebook 06).

A prompt is text the model continues; "in-context learning" is what we call it
when a few solved examples placed in the prompt (shots) change what the model
does next, with no weight updated. To measure it we need a small labelled task
(``assets/sentiment_reviews.tsv``: short reviews in Korean and English, written
for this course) and a way to read the model's answer that is fast and
deterministic: compare the log-probabilities the model gives to the label words
as the very next token (the idea behind the "rank classification" used to
evaluate GPT-3 style prompting, Brown et al. 2020).

Scoring many prompts that share a long few-shot prefix is the expensive part
on a CPU, so :func:`label_logprobs` runs the shared prefix once and reuses its
key/value cache for every review; a unit test shows it gives the same numbers
as scoring each prompt on its own with ``model(**inputs).logits[0, -1]``.
"""

from __future__ import annotations

import copy
import csv
from dataclasses import dataclass
from pathlib import Path

from . import asset_path
from .i18n import bilingual, josa

LABELS = ("positive", "negative")
REVIEWS_NAME = "sentiment_reviews.tsv"
DEFAULT_FORMAT = "Review: {text}\nSentiment: {label}"


@dataclass(frozen=True)
class Review:
    """One labelled review: ``split`` is ``"shot"`` (examples for prompts) or ``"test"``."""

    id: str
    split: str
    lang: str
    label: str
    text: str


def load_reviews(path: str | Path | None = None) -> list[Review]:
    """Read the labelled reviews of notebook 06 (tab-separated: id, split, lang, label, text)."""
    path = Path(path) if path is not None else asset_path(REVIEWS_NAME)
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    reviews = [Review(r["id"], r["split"], r["lang"], r["label"], r["text"]) for r in rows]
    bad = [r.id for r in reviews if r.label not in LABELS or r.split not in ("shot", "test")]
    if bad:
        raise ValueError(bilingual(f"{path}: {bad}번 줄에 {LABELS} 중 하나의 레이블과 'shot' 또는 'test' 구분이 필요합니다.",
                                   f"{path}: rows {bad} need a label in {LABELS} and a split 'shot' or 'test'."))
    return reviews


def few_shot_prompt(text: str, shots=(), *, instruction: str = "", example_format: str = DEFAULT_FORMAT,
                    label_names: dict[str, str] | None = None, separator: str = "\n\n") -> str:
    """Build a k-shot prompt (notebook 06): optional instruction, solved shots, then the query.

    Each shot is ``example_format`` filled with its text and label; the query
    is the same format cut just before ``{label}``, so the model's next token
    is its answer. ``label_names`` renames labels (``{"positive": "good", ...}``).
    """
    if "{text}" not in example_format or not example_format.rstrip().endswith("{label}"):
        raise ValueError(bilingual(
            f"example_format에는 '{{text}}'가 들어 있고 '{{label}}'로 끝나야 합니다. 예: {DEFAULT_FORMAT!r}. "
            f"들어온 값: {example_format!r}",
            "example_format must contain '{text}' and end with '{label}', "
            f"for example {DEFAULT_FORMAT!r}; got {example_format!r}."))
    names = label_names or {label: label for label in LABELS}
    head = example_format.rstrip()[: -len("{label}")].rstrip(" ")
    parts = [instruction.strip()] if instruction.strip() else []
    parts += [example_format.format(text=s.text, label=names[s.label]) for s in shots]
    parts.append(head.format(text=text))
    return separator.join(parts)


def label_token_ids(tokenizer, label_words) -> list[int]:
    """The single token id of each label word (with its leading space, as it follows ``Sentiment:``)."""
    ids = []
    for word in label_words:
        pieces = tokenizer(word, add_special_tokens=False)["input_ids"]
        if len(pieces) != 1:
            raise ValueError(bilingual(
                f"레이블 단어 {josa(repr(word), '이/가')} 토큰 {len(pieces)}개입니다 {pieces}. 다음 토큰 점수로 비교하려면 레이블 단어가 "
                "각각 토큰 하나여야 합니다. 앞에 공백이 있는 영어 단어를 써 보세요. 예: ' positive' / ' negative'",
                f"The label word {word!r} is {len(pieces)} tokens {pieces}; next-token scoring needs "
                "label words of one token each. Try an English word with a leading space, "
                "for example ' positive' / ' negative'."))
        ids.append(pieces[0])
    if len(set(ids)) != len(ids):
        raise ValueError(bilingual(f"레이블 단어 {josa(list(label_words), '이/가')} 같은 토큰을 씁니다. 서로 다른 단어를 고르세요.",
                                   f"The label words {list(label_words)} share a token; choose distinct words."))
    return ids


def _common_prefix_len(sequences: list[list[int]]) -> int:
    n = min(len(s) for s in sequences) - 1  # every prompt keeps at least one token of its own
    first = sequences[0]
    for i in range(max(n, 0)):
        if any(s[i] != first[i] for s in sequences):
            return i
    return max(n, 0)


def label_logprobs(model, tokenizer, prompts: list[str], label_words, *, batch_size: int = 16):
    """Log-probabilities of each label word as the next token after each prompt (notebook 06).

    Returns a float tensor of shape ``(len(prompts), len(label_words))``. The
    token prefix shared by all prompts (the instruction and the shots) runs
    once; its key/value cache is copied for each batch of left-padded
    remainders (sorted by length so that little is padding), with explicit
    ``position_ids`` so padding does not shift positions. Equal, up to float rounding, to scoring each prompt alone.
    """
    import torch

    if isinstance(prompts, str):
        raise TypeError(bilingual("prompts는 문자열의 목록이어야 합니다. 프롬프트 하나라면 [prompt]로 감싸세요.",
                                  "prompts must be a list of strings; wrap a single prompt as [prompt]."))
    if not prompts:
        raise ValueError(bilingual("prompts가 비어 있습니다. 점수를 매길 프롬프트를 하나 이상 주세요.",
                                   "prompts is empty: give at least one prompt to score."))
    if batch_size < 1:
        raise ValueError(bilingual(f"batch_size는 1 이상이어야 합니다. 들어온 값: {batch_size}",
                                   f"batch_size must be at least 1, got {batch_size}."))
    label_ids = label_token_ids(tokenizer, label_words)
    device = model.device
    encoded = [tokenizer(p)["input_ids"] for p in prompts]
    n_prefix = _common_prefix_len(encoded)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    out = torch.empty(len(prompts), len(label_ids))
    with torch.no_grad():
        prefix_cache = None
        if n_prefix:
            prefix = torch.tensor([encoded[0][:n_prefix]], device=device)
            prefix_cache = model(input_ids=prefix, use_cache=True).past_key_values
        # batches of similar lengths waste little on padding (Korean reviews take 4x the tokens)
        order = sorted(range(len(prompts)), key=lambda i: len(encoded[i]))
        for start in range(0, len(prompts), batch_size):
            rows = order[start:start + batch_size]
            rests = [encoded[i][n_prefix:] for i in rows]
            width = max(len(r) for r in rests)
            # left padding: every row's last real token sits in the last column
            input_ids = torch.tensor([[pad_id] * (width - len(r)) + r for r in rests], device=device)
            rest_mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rests], device=device)
            position_ids = (n_prefix + rest_mask.cumsum(-1) - 1).clamp(min=n_prefix)
            attention_mask = torch.cat([rest_mask.new_ones(len(rests), n_prefix), rest_mask], dim=1)
            cache = None
            if prefix_cache is not None:
                cache = copy.deepcopy(prefix_cache)
                cache.batch_repeat_interleave(len(rests))
            logits = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                           past_key_values=cache, use_cache=cache is not None, logits_to_keep=1).logits
            logprobs = logits[:, -1].float().log_softmax(-1)
            out[rows] = logprobs[:, label_ids].cpu()
    return out


def classify(model, tokenizer, prompts: list[str], label_words=(" positive", " negative"),
             labels=LABELS, **kwargs) -> list[str]:
    """The label whose word the model finds most likely next, for each prompt (notebook 06)."""
    scores = label_logprobs(model, tokenizer, prompts, label_words, **kwargs)
    return [labels[i] for i in scores.argmax(-1).tolist()]


def accuracy(predictions, gold) -> float:
    """Share of predictions equal to the gold labels."""
    predictions, gold = list(predictions), list(gold)
    if len(predictions) != len(gold) or not gold:
        raise ValueError(bilingual(f"예측과 정답 레이블의 수가 같아야 합니다(예측 {len(predictions)}개, 정답 {len(gold)}개).",
                                   f"Need as many predictions as gold labels (got {len(predictions)} and {len(gold)})."))
    return sum(p == g for p, g in zip(predictions, gold)) / len(gold)


def summarize(predictions, reviews) -> dict[str, float]:
    """Accuracy overall and per language, and the share predicted positive (notebook 06)."""
    row = {"all": accuracy(predictions, [r.label for r in reviews])}
    for lang in sorted({r.lang for r in reviews}):
        pairs = [(p, r.label) for p, r in zip(predictions, reviews) if r.lang == lang]
        row[lang] = accuracy([p for p, _ in pairs], [g for _, g in pairs])
    row["share positive"] = sum(p == "positive" for p in predictions) / len(predictions)
    return row


def accuracy_table(rows: dict, columns=("all", "en", "ko", "share positive"), key_name: str = "") -> str:
    """A plain-text table of :func:`summarize` rows keyed by condition (shots, wording...), three decimals."""
    from .tables import format_table

    return format_table([key_name, *columns], [[key, *(f"{row[c]:.3f}" for c in columns)] for key, row in rows.items()])


def greedy_answers(model, tokenizer, prompts: list[str], max_new_tokens: int = 3) -> list[str]:
    """What the model writes after each prompt under greedy decoding, new tokens only (notebook 06)."""
    if max_new_tokens < 1:
        raise ValueError(bilingual(f"max_new_tokens는 양의 정수여야 합니다. 들어온 값: {max_new_tokens}",
                                   f"max_new_tokens must be a positive integer, got {max_new_tokens}."))
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # a decoder-only model continues from the last column
    try:
        inputs = tokenizer(prompts, return_tensors="pt", padding=True).to(model.device)
    finally:
        tokenizer.padding_side = side
    import torch

    with torch.no_grad():
        out = model.generate(**inputs, do_sample=False, max_new_tokens=max_new_tokens,
                             pad_token_id=tokenizer.pad_token_id)
    return tokenizer.batch_decode(out[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
