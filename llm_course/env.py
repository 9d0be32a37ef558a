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
from importlib.metadata import PackageNotFoundError, version

REPORTED_PACKAGES = ("torch", "transformers", "tokenizers", "accelerate", "gguf", "bitsandbytes",
                     "sentence-transformers", "datasets", "peft", "ipywidgets", "llm-course")


def in_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules or os.environ.get("COLAB_RELEASE_TAG") is not None


def has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


DEVICE_ENV_VAR = "LLM_COURSE_DEVICE"


def available_devices() -> list[str]:
    """The devices torch can use here, best first: some of ``cuda``, ``mps``, and always ``cpu``."""
    import torch

    available = ["cpu"]
    if torch.backends.mps.is_available():
        available.insert(0, "mps")
    if torch.cuda.is_available():
        available.insert(0, "cuda")
    return available


def get_device(prefer: str | None = None) -> str:
    """``"cuda"`` if a CUDA GPU is usable, else ``"mps"``, else ``"cpu"``.

    ``prefer`` forces a choice (``"cpu"`` for a reproducible run on any
    machine). Without it, the environment variable ``LLM_COURSE_DEVICE``
    forces one for the whole course: the test suite sets it to ``cpu`` so
    that outputs compared by nbval stay the same on a machine with a GPU.
    Asking for a device that is not there raises a clear error.
    """
    from .i18n import bilingual, josa

    available = available_devices()
    source = "prefer="
    if prefer is None:
        prefer = os.environ.get(DEVICE_ENV_VAR, "").strip().lower() or None
        source = f"{DEVICE_ENV_VAR}="
    if prefer is None:
        return available[0]
    if prefer.split(":")[0] not in available:
        raise ValueError(bilingual(
            f"장치 {josa(f'{prefer!r}({source}{prefer})', '을/를')} 여기서 쓸 수 없습니다. 쓸 수 있는 장치: {', '.join(available)}.",
            f"Device {prefer!r} ({source}{prefer}) is not available here; available: {', '.join(available)}."))
    return prefer


def set_seed(seed: int = 0) -> None:
    """Seed Python's ``random``, NumPy and torch (and so transformers' sampling)."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


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

    device = get_device()
    info: dict[str, str] = {
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "running in": "Google Colab" if in_colab() else "local Python",
    }
    info.update({pkg: package_version(pkg) for pkg in REPORTED_PACKAGES})
    forced = os.environ.get(DEVICE_ENV_VAR, "").strip()
    info["device"] = f"{device} (set by {DEVICE_ENV_VAR})" if forced else device
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        info["gpu"] = f"{props.name}, {props.total_memory / 1e9:.1f} GB"
    info["cpu threads"] = str(torch.get_num_threads())
    mem = _memory_gb()
    if mem:
        info["memory"] = f"{mem[0]:.1f} GB total, {mem[1]:.1f} GB free"
    info["model cache"] = str(models.cache_root())
    for name in models.known_models():
        spec = models.REGISTRY[name]
        try:
            models.package_dir(spec)
            state = models.cache_state(name) if spec.gguf_file else "ready (loads in place)"
        except models.ModelPackageMissingError:
            state = f"package missing: {spec.install_command}"
        info[name] = state
    if check_hub:
        info["hugging face hub"] = "reachable" if models.hub_reachable() else "not reachable (offline)"
    return info


def format_report(info: dict[str, str]) -> str:
    width = max(len(k) for k in info)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in info.items())


def print_report(check_hub: bool = False) -> dict[str, str]:
    """Print the environment report and return it."""
    info = environment_report(check_hub=check_hub)
    print(format_report(info))
    return info
