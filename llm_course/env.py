"""Where the course is running, and a report of it (introduced in notebook 00).

Device choice falls back from CUDA to Apple's MPS to the CPU; seeding covers
Python, NumPy and torch; detection tells Colab, offline and GPU apart. The
same report prints in a notebook (``environment_report()``) and in a shell
(``python -m llm_course doctor``), so a learner and an instructor look at
the same facts when something goes wrong.
"""

from __future__ import annotations

import os
import platform
import random
import sys

from . import package_version
from .device import DEVICE_ENV_VAR, available_devices, get_device  # noqa: F401 - env.get_device() is what notebook 00 teaches
from .i18n import display_width, ko_en

REPORTED_PACKAGES = ("torch", "transformers", "tokenizers", "accelerate", "gguf", "bitsandbytes",
                     "sentence-transformers", "datasets", "peft", "ipywidgets", "llm-course")


# How the course tells Colab apart, as Python source: every notebook's first cell tests exactly
# this (llm_course_dev.authoring writes it there, since that cell runs before the course is
# installed and cannot import it), and in_colab() below is the same expression.
# Colab's kernel imports google.colab at start-up, and its runtimes set COLAB_RELEASE_TAG.
COLAB_CONDITION = '"google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ'


def in_colab() -> bool:
    """True inside Google Colab (notebook 00); the test the notebooks' first cell makes too (``COLAB_CONDITION``)."""
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def set_seed(seed: int = 0) -> None:
    """Seed Python's ``random``, NumPy and torch (and so transformers' sampling)."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _memory_gb() -> tuple[float, float] | None:
    try:
        import psutil
    except ImportError:
        return None
    mem = psutil.virtual_memory()
    return mem.total / 1e9, mem.available / 1e9


def environment_report(check_hub: bool = False) -> dict[str, str]:
    """The facts a learner or instructor needs when something goes wrong, as an ordered dict.

    ``check_hub=True`` also tries to reach the Hugging Face Hub (at most 3 s).
    """
    import torch

    from . import models
    from .device import device_type

    device = get_device()
    info: dict[str, str] = {
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "running in": "Google Colab" if in_colab() else ko_en("로컬 파이썬", "local Python"),
    }
    info.update({pkg: package_version(pkg) for pkg in REPORTED_PACKAGES})
    forced = os.environ.get(DEVICE_ENV_VAR, "").strip()
    info["device"] = ko_en(f"{device} ({DEVICE_ENV_VAR}로 지정)", f"{device} (set by {DEVICE_ENV_VAR})") if forced else device
    kind = device_type(device)
    if kind == "cuda":
        index = torch.device(device).index
        props = torch.cuda.get_device_properties(index if index is not None else torch.cuda.current_device())
        info["gpu"] = f"{props.name}, {props.total_memory / 1e9:.1f} GB"
    elif kind == "mps":
        # Apple's GPU shares the machine's memory; Metal says how much of it the GPU should use.
        usable = getattr(torch.mps, "recommended_max_memory", None)  # torch 2.5+
        info["gpu"] = "Apple GPU (Metal, MPS), memory shared with the CPU" + (
            f", {usable() / 1e9:.1f} GB recommended at most" if usable else "")
    info["cpu threads"] = str(torch.get_num_threads())
    mem = _memory_gb()
    if mem:
        info["memory"] = ko_en(f"전체 {mem[0]:.1f} GB, 여유 {mem[1]:.1f} GB", f"{mem[0]:.1f} GB total, {mem[1]:.1f} GB free")
    info["model cache"] = str(models.cache_root())
    for name in models.known_models():
        spec = models.REGISTRY[name]
        try:
            models.package_dir(spec)
            state = models.cache_state(name) if spec.gguf_file else "ready"
            state = {"ready": ko_en("준비됨(ready)", "ready"), "missing": ko_en("아직 변환 전(missing)", "missing"),
                     "corrupt": ko_en("손상됨(corrupt): 다시 변환합니다", "corrupt")}.get(state, state)
            if not spec.gguf_file:
                state += ko_en(", 제자리에서 불러옴", " (loads in place)")
        except models.ModelPackageMissingError:
            state = ko_en(f"패키지 없음: {spec.install_command}", f"package missing: {spec.install_command}")
        info[name] = state
    if check_hub:
        info["hugging face hub"] = (ko_en("연결됨", "reachable") if models.hub_reachable()
                                    else ko_en("연결 안 됨(오프라인)", "not reachable (offline)"))
    return info


# The report's labels in the Korean notebooks (the dict keeps its English keys: code reads them).
REPORT_LABELS_KO = {"python": "파이썬", "platform": "운영체제", "running in": "실행 환경", "device": "장치",
                    "gpu": "GPU", "cpu threads": "CPU 스레드", "memory": "메모리", "model cache": "모델 캐시",
                    "hugging face hub": "Hugging Face Hub"}


def format_report(info: dict[str, str]) -> str:
    """The report as aligned lines, its labels in the notebook's language (package and model names as they are)."""
    shown = {ko_en(REPORT_LABELS_KO.get(k, k), k): v for k, v in info.items()}
    width = max(display_width(k) for k in shown)
    return "\n".join(f"{k}{' ' * (width - display_width(k))}  {v}" for k, v in shown.items())


def prepare_chat_model() -> None:
    """Convert the packaged chat model into the cache now if it is not there yet (notebook 00).

    The first conversion on a machine (a fresh Colab runtime) takes 20 s to 2 minutes and
    prints what it is doing, with the cache's path. :func:`print_report` calls this, so those
    lines appear in each notebook's setup cell, whose output varies anyway, and never in a later
    cell whose output nbval compares. A problem (a cache folder that cannot be written) is
    printed with what to do, and the report below it shows the cache's state.
    """
    from . import models

    spec = models.REGISTRY[models.DEFAULT_CHAT_MODEL]
    try:
        models.package_dir(spec)
    except models.ModelPackageMissingError:
        return  # the report says "package missing" with the command that installs it
    try:
        models.ensure_cached(spec.name)
    except models.ModelError as err:
        print(err)


def prepare_notebook() -> None:
    """Switch on what a lesson's notebook needs, from its setup cell (idempotent; nothing happens at import).

    In an IPython kernel, a ``NameError`` from a cell run before the cells above it gets a
    hint saying which cell defines the name (:mod:`llm_course.hints`; a kernel started from
    the course's own environment has it from its kernel config already, Colab's has not).
    Figures get the Korean font (:func:`llm_course.viz.setup_fonts`) if matplotlib is installed.
    """
    from . import hints

    hints.install()
    try:
        from . import viz

        viz.setup_fonts()
    except ImportError:  # matplotlib or the font package missing: viz raises its message when a figure is drawn
        pass


def print_report(check_hub: bool = False, prepare: bool = True) -> dict[str, str]:
    """Print the environment report and return it (every notebook's setup cell, from notebook 00).

    ``prepare=True`` first prepares the notebook (:func:`prepare_notebook`: the hint for cells
    run out of order, the figures' font) and converts the packaged chat model if its cache is
    missing (:func:`prepare_chat_model`), so the conversion happens here rather than in a checked cell.
    """
    if prepare:
        prepare_notebook()
        prepare_chat_model()
    info = environment_report(check_hub=check_hub)
    print(format_report(info))
    return info
