"""Training on your own text: the checks that run before ``Trainer`` (introduced in notebook 09).

Notebook 09's last section walks from a text file the learner owns to a LoRA
adapter saved in a folder they keep, with the library's own calls written out
(``load_dataset("text")``, ``Trainer``, ``save_pretrained``). What can go wrong
with a learner's own file is caught here first, each with a message in Korean
and English that says what to do, because a mistake that reaches ``Trainer``
surfaces as a long traceback from deep inside datasets or PyTorch:

* :func:`read_text`: a missing file, a folder, an empty file, or a file that is
  not UTF-8 (a Korean file saved as CP949/EUC-KR by an older Windows editor).
* :func:`check_block_size`: a block must hold ``<bos>`` and at least one token
  to predict, and fit the model's context.
* :func:`check_blocks`: a text too short for the training and held-out blocks
  (the blocks themselves, each starting with ``<bos>`` as Gemma was pretrained,
  are :func:`llm_course.finetune.group_texts_with_bos`'s).
* :func:`default_save_dir` and :func:`check_save_dir`: where the adapter is kept
  (``~/llm-course-models/<name>``, or ``$LLM_COURSE_MODELS/<name>``) and a folder
  that cannot be written, found before training rather than after it.

The course's own sample, ``assets/own_text_sample_ko.txt`` (:data:`SAMPLE_FILE`),
is a garden diary written in Korean for this course.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from . import asset_path
from .finetune import check_block_size as _check_block_range
from .attention import context_length
from .i18n import bilingual, josa
from .tokens import is_hangul_syllable

SAMPLE_FILE = "own_text_sample_ko.txt"
MODELS_ENV_VAR = "LLM_COURSE_MODELS"  # where default_save_dir keeps trained models, instead of ~/llm-course-models
DEFAULT_MODELS_DIR = "~/llm-course-models"


def sample_path() -> Path:
    """The course's Korean sample text for notebook 09's own-text section."""
    return asset_path(SAMPLE_FILE)


# --------------------------------------------------------------------------
# The text file
# --------------------------------------------------------------------------


def _looks_like_cp949(data: bytes) -> bool:
    try:
        text = data.decode("cp949")
    except UnicodeDecodeError:
        return False
    return any(is_hangul_syllable(ch) for ch in text)


def read_text(path) -> str:
    """The whole file as text, refusing what cannot train, before ``load_dataset`` sees it (notebook 09).

    Refused, each with a message that says what to do: a path that does not
    exist or is a folder, a file that is not UTF-8 (the message names CP949/
    EUC-KR when the bytes read as Korean that way, and gives the ``iconv`` and
    Python commands that convert it), and a file that is empty or only spaces.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(bilingual(
            f"파일이 없습니다: {path}. 경로를 확인하세요. 상대 경로는 노트북이 실행되는 폴더({Path.cwd()})에서 찾습니다. "
            "Colab이라면 왼쪽 '파일' 창에 파일을 올린 뒤 그 경로를 쓰세요.",
            f"No such file: {path}. Check the path; a relative path is looked up from the folder the notebook runs "
            f"in ({Path.cwd()}). On Colab, upload the file in the Files pane on the left and use its path."))
    if path.is_dir():
        raise IsADirectoryError(bilingual(
            f"{josa(str(path), '은/는')} 폴더입니다. 폴더 안의 글 파일 하나(.txt)를 지정하세요.",
            f"{path} is a folder; name one text file (.txt) inside it."))
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        guess_ko = "CP949(EUC-KR)로 저장된 한국어 파일로 보입니다. " if _looks_like_cp949(data) else ""
        guess_en = "It looks like Korean saved as CP949 (EUC-KR). " if guess_ko else ""
        raise ValueError(bilingual(
            f"{josa(path.name, '을/를')} UTF-8로 읽을 수 없습니다({err.start}번째 바이트). {guess_ko}"
            f"UTF-8로 바꿔 저장한 뒤 다시 실행하세요. 터미널: iconv -f cp949 -t utf-8 \"{path}\" > new.txt  "
            f"파이썬: Path('new.txt').write_text(open(\"{path}\", encoding='cp949').read(), encoding='utf-8')  "
            "(메모장에서는 '다른 이름으로 저장'에서 인코딩을 UTF-8로 고릅니다.)",
            f"{path.name} cannot be read as UTF-8 (byte {err.start}). {guess_en}Convert it to UTF-8 and run again. "
            f"Terminal: iconv -f cp949 -t utf-8 \"{path}\" > new.txt  Python: "
            f"Path('new.txt').write_text(open(\"{path}\", encoding='cp949').read(), encoding='utf-8')  "
            "(in Notepad: Save As, encoding UTF-8).")) from None
    if not text.strip():
        raise ValueError(bilingual(
            f"{josa(path.name, '은/는')} 비어 있습니다(공백과 줄 바꿈뿐입니다). 학습할 글을 넣고 저장한 뒤 다시 실행하세요.",
            f"{path.name} is empty (only spaces and line breaks). Put the text to learn in it, save, and run again."))
    return text


# --------------------------------------------------------------------------
# Blocks that start with <bos>
# --------------------------------------------------------------------------


def check_block_size(block_size, model_or_config) -> int:
    """``block_size`` from 2 (``<bos>`` and one token to predict) to the model's context (notebook 09).

    The context is ``config.max_position_embeddings`` of the model or config
    given; the range check beyond 2 is :func:`llm_course.finetune.check_block_size`'s.
    """
    if not isinstance(block_size, bool) and isinstance(block_size, int) and block_size < 2:
        raise ValueError(bilingual(
            f"block_size {josa(block_size, '은/는')} 2 이상이어야 합니다. 블록마다 맨 앞이 <bos>라서, 블록 하나에 "
            "예측할 토큰이 적어도 하나는 있어야 합니다. 예: block_size=64",
            f"block_size must be at least 2: every block starts with <bos>, so a block needs at least one more "
            f"token to predict; got {block_size}. Try block_size=64."))
    return _check_block_range(block_size, context_length(model_or_config))


def check_blocks(n_blocks: int, n_tokens: int, block_size: int, minimum: int = 2) -> None:
    """Refuse a text too short for ``minimum`` blocks (one to train on, one held out) (notebook 09)."""
    if n_blocks >= minimum:
        return
    most = n_tokens // minimum + 1  # the largest block_size that still gives `minimum` blocks
    fix_ko = f"글을 더 넣거나 block_size를 {most} 이하로 줄이세요." if most >= 2 else "글을 더 넣으세요."
    fix_en = f"Add more text, or use block_size <= {most}." if most >= 2 else "Add more text."
    raise ValueError(bilingual(
        f"글이 너무 짧습니다. 토큰이 {n_tokens}개라 {block_size}토큰짜리 블록을 {n_blocks}개밖에 만들 수 없는데, "
        f"학습용과 평가용으로 적어도 {minimum}개가 필요합니다. {fix_ko}",
        f"The text is too short: {n_tokens} tokens make only {n_blocks} block{'s' if n_blocks != 1 else ''} of "
        f"{block_size}, and training plus held-out evaluation needs at least {minimum}. {fix_en}"))


# --------------------------------------------------------------------------
# The folder the learner keeps
# --------------------------------------------------------------------------


def default_save_dir(name: str) -> Path:
    """``~/llm-course-models/<name>``, or ``$LLM_COURSE_MODELS/<name>`` when that is set (notebook 09)."""
    if not isinstance(name, str) or not name.strip() or Path(name).name != name or name in (".", ".."):
        raise ValueError(bilingual(
            f"모델 이름은 폴더 이름 하나여야 합니다(슬래시 없이). 받은 값: {name!r}. 예: 'garden-diary-lora'",
            f"The model name must be a single folder name (no slashes); got {name!r}. Example: 'garden-diary-lora'."))
    return Path(os.environ.get(MODELS_ENV_VAR) or DEFAULT_MODELS_DIR).expanduser() / name


def _not_writable(path: Path, reason_ko: str, reason_en: str) -> PermissionError:
    return PermissionError(bilingual(
        f"저장할 폴더 {josa(str(path), '을/를')} 쓸 수 없습니다: {reason_ko}. 학습을 시작하기 전에 멈췄습니다. "
        "내가 쓸 수 있는 다른 경로를 SAVE_DIR에 주세요(예: Path.home() / 'llm-course-models' / 'my-model').",
        f"Cannot write the save folder {path}: {reason_en}. Stopped before training. Give SAVE_DIR another "
        "path you can write (e.g. Path.home() / 'llm-course-models' / 'my-model')."))


def check_save_dir(path) -> Path:
    """Create the save folder if needed and prove it can be written; returns it (notebook 09).

    Refuses a path that is a file, a path under a file, and a folder this user
    may not write (tested by writing and removing a small file, which also
    holds for root, whom permission bits do not stop).
    """
    path = Path(path).expanduser()
    for parent in [path, *path.parents]:
        if parent.exists():
            if not parent.is_dir():
                where_ko = "이 경로는 파일입니다" if parent == path else f"그 위의 {josa(str(parent), '이/가')} 파일입니다"
                where_en = "the path is a file" if parent == path else f"{parent}, above it, is a file"
                raise _not_writable(path, where_ko, where_en)
            break
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{uuid.uuid4().hex}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        reason = err.strerror or str(err)
        raise _not_writable(path, f"권한이 없거나 쓸 수 없는 곳입니다({reason})",
                            f"no permission, or a place that cannot be written ({reason})") from None
    return path
