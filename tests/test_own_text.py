"""llm_course.own_text: notebook 09's checks on a learner's own text, run before Trainer starts.

Fast: files under tmp_path, configs instead of models, and Gemma's tokenizer
only where the blocks' first token must be checked against the real one.
"""

import os
from pathlib import Path

import pytest
from transformers import PretrainedConfig

from llm_course import own_text
from llm_course.finetune import group_texts_with_bos

GEMMA_CONTEXT = 32_768


def _both_languages(message: str) -> None:
    ko, en = message.split("\n", 1)
    assert any("\uac00" <= ch <= "\ud7a3" for ch in ko), "the first line should be Korean"
    assert "\n" not in en and not any("\uac00" <= ch <= "\ud7a3" for ch in en), "the second line should be English"


# -- the text file -----------------------------------------------------------------------------------


def test_sample_text_is_korean_utf8_of_a_few_kilobytes():
    text = own_text.read_text(own_text.sample_path())
    size = len(text.encode("utf-8"))
    assert 2_000 <= size <= 4_096, size
    hangul = sum("\uac00" <= ch <= "\ud7a3" for ch in text)
    assert hangul > 0.6 * len(text.replace(" ", "").replace("\n", ""))


def test_read_text_gives_the_file(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("대한민국은 민주공화국이다.\n", encoding="utf-8")
    assert own_text.read_text(path) == "대한민국은 민주공화국이다.\n"
    assert own_text.read_text(str(path)) == "대한민국은 민주공화국이다.\n"


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        own_text.read_text(tmp_path / "nope.txt")
    assert "파일이 없습니다" in str(err.value) and "No such file" in str(err.value)
    _both_languages(str(err.value))


def test_folder_instead_of_file(tmp_path):
    with pytest.raises(IsADirectoryError) as err:
        own_text.read_text(tmp_path)
    assert "폴더입니다" in str(err.value) and "is a folder" in str(err.value)


@pytest.mark.parametrize("content", ["", "   \n\n\t  \n"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "empty.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError) as err:
        own_text.read_text(path)
    assert "비어 있습니다" in str(err.value) and "is empty" in str(err.value)
    _both_languages(str(err.value))


@pytest.mark.parametrize("encoding", ["cp949", "euc-kr"])
def test_korean_file_in_cp949_names_the_encoding_and_the_fix(tmp_path, encoding):
    path = tmp_path / "old.txt"
    path.write_bytes("텃밭에 감자를 심었다.\n".encode(encoding))
    with pytest.raises(ValueError) as err:
        own_text.read_text(path)
    message = str(err.value)
    assert "CP949" in message and "iconv -f cp949 -t utf-8" in message and "encoding='cp949'" in message
    assert "UTF-8로 읽을 수 없습니다" in message and "cannot be read as UTF-8" in message
    # the fix the message gives works
    fixed = tmp_path / "new.txt"
    fixed.write_text(open(path, encoding="cp949").read(), encoding="utf-8")
    assert own_text.read_text(fixed) == "텃밭에 감자를 심었다.\n"


def test_binary_file_is_refused_without_guessing_korean(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"\xff\xfe\x00\x81" * 8)
    with pytest.raises(ValueError) as err:
        own_text.read_text(path)
    assert "UTF-8" in str(err.value) and "CP949(EUC-KR)로 저장된" not in str(err.value)


# -- block size ----------------------------------------------------------------------------------


def _config(context=GEMMA_CONTEXT):
    return PretrainedConfig(max_position_embeddings=context)


@pytest.mark.parametrize("size", [2, 64, 128, GEMMA_CONTEXT])
def test_good_block_sizes(size):
    assert own_text.check_block_size(size, _config()) == size


@pytest.mark.parametrize("size", [1, 0, -5])
def test_block_size_below_two(size):
    with pytest.raises(ValueError) as err:
        own_text.check_block_size(size, _config())
    assert "<bos>" in str(err.value)
    _both_languages(str(err.value))


def test_block_size_longer_than_the_context():
    with pytest.raises(ValueError) as err:
        own_text.check_block_size(GEMMA_CONTEXT + 1, _config())
    assert "32,768" in str(err.value) and "context" in str(err.value)


def test_block_size_reads_the_context_from_a_model_too():
    class Model:
        config = _config(512)

    assert own_text.check_block_size(512, Model()) == 512
    with pytest.raises(ValueError):
        own_text.check_block_size(513, Model())


@pytest.mark.parametrize("size", [64.0, "64", True])
def test_block_size_not_a_whole_number(size):
    with pytest.raises(ValueError):
        own_text.check_block_size(size, _config())


# -- blocks --------------------------------------------------------------------------------------


def test_group_texts_with_bos_on_gemmas_tokenizer():
    from llm_course import models

    tokenizer = models.load_tokenizer("gemma3-270m")
    lines = own_text.read_text(own_text.sample_path()).splitlines(keepends=True)
    tokens = tokenizer(lines, add_special_tokens=False)
    assert tokenizer.bos_token_id not in [t for row in tokens["input_ids"] for t in row]
    blocks = group_texts_with_bos(dict(tokens), 64, bos_token_id=tokenizer.bos_token_id)
    assert len(blocks["input_ids"]) >= 10
    assert all(b[0] == tokenizer.bos_token_id and len(b) == 64 for b in blocks["input_ids"])
    text_of_blocks = tokenizer.decode([t for block in blocks["input_ids"] for t in block[1:]])
    assert "".join(lines).startswith(text_of_blocks) and len(text_of_blocks) > 0.9 * len("".join(lines))


@pytest.mark.parametrize("n_blocks", [0, 1])
def test_too_little_text(n_blocks):
    with pytest.raises(ValueError) as err:
        own_text.check_blocks(n_blocks, n_tokens=70, block_size=64)
    assert "너무 짧습니다" in str(err.value) and "too short" in str(err.value)
    assert "block_size <= 36" in str(err.value)
    _both_languages(str(err.value))


def test_enough_text():
    assert own_text.check_blocks(2, n_tokens=128, block_size=64) is None


# -- the save folder -----------------------------------------------------------------------------


def test_default_save_dir_is_under_home(monkeypatch):
    monkeypatch.delenv(own_text.MODELS_ENV_VAR, raising=False)
    assert own_text.default_save_dir("diary") == Path.home() / "llm-course-models" / "diary"


def test_default_save_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(own_text.MODELS_ENV_VAR, str(tmp_path))
    assert own_text.default_save_dir("diary") == tmp_path / "diary"


@pytest.mark.parametrize("name", ["", "a/b", "..", "../x", None])
def test_default_save_dir_wants_one_folder_name(name):
    with pytest.raises(ValueError) as err:
        own_text.default_save_dir(name)
    _both_languages(str(err.value))


def test_check_save_dir_creates_the_folder_and_leaves_nothing_behind(tmp_path):
    target = tmp_path / "models" / "diary"
    assert own_text.check_save_dir(target) == target
    assert target.is_dir() and list(target.iterdir()) == []
    assert own_text.check_save_dir(target) == target  # an existing folder is fine


def test_save_dir_that_is_a_file(tmp_path):
    path = tmp_path / "adapter"
    path.write_text("not a folder")
    with pytest.raises(PermissionError) as err:
        own_text.check_save_dir(path)
    assert "파일입니다" in str(err.value) and "is a file" in str(err.value)
    assert "SAVE_DIR" in str(err.value)
    _both_languages(str(err.value))


def test_save_dir_under_a_file(tmp_path):
    # A folder under a regular file can never be made, even by root.
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file")
    with pytest.raises(PermissionError) as err:
        own_text.check_save_dir(blocker / "models" / "diary")
    assert str(blocker) in str(err.value) and "파일입니다" in str(err.value)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root ignores permission bits; test_save_dir_under_a_file covers an unwritable path for root")
def test_save_dir_without_permission(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(PermissionError) as err:
            own_text.check_save_dir(locked / "diary")
        assert "권한" in str(err.value) and "permission" in str(err.value)
        _both_languages(str(err.value))
    finally:
        locked.chmod(0o700)
