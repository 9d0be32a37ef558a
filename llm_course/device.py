"""What differs between a CPU, a CUDA GPU and Apple's MPS, in one place (notebooks 08 and 09).

Timing and memory need the device's own tools: a GPU runs work asynchronously, so a
timer must wait for it (:func:`synchronize`); its memory lives in the device's
allocator, not in the process's RSS (:class:`PeakMemory`, :func:`memory_in_use`);
bfloat16 is fast only on some hardware (:func:`fast_bfloat16`). Every helper takes a
device as a string (``"cpu"``, ``"cuda"``, ``"cuda:0"``, ``"mps"``) or a
``torch.device``, and every memory figure says which memory it is (:func:`memory_label`).
"""

from __future__ import annotations

import os
import threading

import torch


DEVICE_ENV_VAR = "LLM_COURSE_DEVICE"


def available_devices() -> list[str]:
    """The devices torch can use here, best first: some of ``cuda``, ``mps``, and always ``cpu``."""
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
    Asking for a device that is not there raises a clear error, and so does
    a GPU index the machine does not have (``"cuda:7"`` on a one-GPU machine).
    """
    from .i18n import bilingual, josa

    available = available_devices()
    source = "prefer="
    if prefer is None:
        prefer = os.environ.get(DEVICE_ENV_VAR, "").strip().lower() or None
        source = f"{DEVICE_ENV_VAR}="
    if prefer is None:
        return available[0]
    shown = josa(f"{prefer!r}({source}{prefer})", "을/를")
    try:
        device = torch.device(prefer)
    except (RuntimeError, TypeError, ValueError):
        raise ValueError(bilingual(
            f"장치 이름 {shown} 알아볼 수 없습니다. 'cpu', 'cuda', 'cuda:0', 'mps'처럼 쓰세요. 여기서 쓸 수 있는 장치: "
            f"{', '.join(available)}.",
            f"Device {prefer!r} ({source}{prefer}) is not a device name; write it like 'cpu', 'cuda', 'cuda:0' "
            f"or 'mps'. Available here: {', '.join(available)}.")) from None
    if device.type not in available:
        raise ValueError(bilingual(
            f"장치 {shown} 여기서 쓸 수 없습니다. 쓸 수 있는 장치: {', '.join(available)}.",
            f"Device {prefer!r} ({source}{prefer}) is not available here; available: {', '.join(available)}."))
    if device.index is not None:
        count = torch.cuda.device_count() if device.type == "cuda" else 1  # one CPU device, one MPS device
        if device.index >= count:
            indexes = ", ".join(f"{device.type}:{i}" for i in range(count))
            raise ValueError(bilingual(
                f"장치 {shown} 여기서 쓸 수 없습니다. 이 컴퓨터의 {device.type} 장치는 {count}개({indexes})이고 번호는 0부터 "
                f"셉니다. {device.type!r}라고만 쓰면 첫 장치를 씁니다.",
                f"Device {prefer!r} ({source}{prefer}) is not available here: this machine has {count} "
                f"{device.type} device{'s' if count != 1 else ''} ({indexes}), numbered from 0. "
                f"Plain {device.type!r} uses the first one."))
    return prefer


def device_type(device) -> str:
    """``"cpu"``, ``"cuda"`` or ``"mps"`` for ``"cuda:0"``, ``torch.device("cuda", 1)`` and the like."""
    return torch.device(device).type


def synchronize(device) -> None:
    """Wait until the device has finished the work queued so far (nothing to wait for on the CPU)."""
    kind = device_type(device)
    if kind == "cuda":
        torch.cuda.synchronize(torch.device(device))
    elif kind == "mps":
        torch.mps.synchronize()


def fast_bfloat16(device) -> bool:
    """True where bfloat16 runs natively in hardware, so training or inference in it pays off.

    On CUDA this needs compute capability 8.0 or newer (A100, L4, RTX 30xx, H100...):
    ``torch.cuda.is_bf16_supported()`` alone also says yes on a T4 or V100, where
    bfloat16 is only emulated and float16 is the fast half precision. On the CPU it
    is whether oneDNN has a bfloat16 path for this CPU (AVX-512 and newer,
    AMX, ARM with bf16); a CPU with only AVX2 has none. MPS: bfloat16 works on recent macOS but is not faster; say no.
    """
    kind = device_type(device)
    if kind == "cuda":
        index = torch.device(device).index
        major, _ = torch.cuda.get_device_capability(index if index is not None else torch.cuda.current_device())
        return major >= 8
    if kind == "cpu":
        try:  # oneDNN's own test for the CPU's bfloat16 instructions (AVX-512-BF16, AMX, ARM's bf16)
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):  # a build without oneDNN: no fast path to count on
            return False
    return False


def half_dtype(device) -> torch.dtype:
    """The half-precision dtype to train or compute in on ``device``: bfloat16 where it is fast, else float16."""
    return torch.bfloat16 if fast_bfloat16(device) else torch.float16


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def memory_in_use(device) -> int:
    """Bytes in use now: the CUDA/MPS allocator's tensors on a GPU, the process's RSS on the CPU."""
    kind = device_type(device)
    if kind == "cuda":
        return torch.cuda.memory_allocated(torch.device(device))
    if kind == "mps":
        return torch.mps.current_allocated_memory()
    return _rss()


def memory_label(device, lang: str | None = None) -> str:
    """What :func:`memory_in_use` and :class:`PeakMemory` measure on ``device``, for printing beside the number.

    ``lang`` defaults to the running notebook's language (:func:`llm_course.i18n.ko_en`).
    """
    kind = device_type(device)
    labels = {
        "cuda": ("GPU 메모리(CUDA 할당기가 텐서에 내준 양)", "GPU memory (tensors in CUDA's allocator)"),
        "mps": ("GPU 메모리(MPS 할당기가 텐서에 내준 양)", "GPU memory (tensors in MPS's allocator)"),
        "cpu": ("프로세스 메모리(RSS)", "process memory (RSS)"),
    }
    ko, en = labels.get(kind, labels["cpu"])
    if lang is None:
        from .i18n import ko_en

        return ko_en(ko, en)
    return ko if lang == "ko" else en


def release_memory(device="cpu") -> int:
    """Give the memory of deleted models back, and return what is in use now on ``device``, in bytes.

    After ``del`` of a model and its trainer, Python frees the tensors, but the
    C library keeps the freed blocks for reuse, so the process's RSS stays high
    and the next measurement would start from there. This collects garbage,
    returns freed blocks to the operating system (glibc's ``malloc_trim`` on
    Linux) and empties the GPU allocator's cache. The figure returned is
    :func:`memory_in_use` of ``device`` (RSS on the CPU, allocated tensors on a GPU).
    """
    import ctypes
    import gc
    import sys

    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc (musl, for example): nothing to trim
            pass
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        torch.mps.empty_cache()
    return memory_in_use(device)


class PeakMemory:
    """Peak memory during a block, in bytes, measured the way ``device`` needs.

    CUDA: the allocator's own peak counter (``torch.cuda.max_memory_allocated``).
    MPS and CPU: sampled every ``every`` seconds in a thread (MPS's allocated
    tensors; the CPU process's RSS, after :func:`release_memory` so that freed
    blocks the C library kept do not count). ``start`` is what was in use when the
    block began (weights already loaded), ``peak`` the most seen during it, and
    ``ko_en`` says which memory both are.
    """

    def __init__(self, device="cpu", every: float = 0.05):
        self.device = str(device)
        self.kind = device_type(device)
        self.every = every
        self.start = self.peak = 0
        self.label = memory_label(device)
        self._stop = threading.Event()
        self._thread = None

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, memory_in_use(self.device))
            self._stop.wait(self.every)

    def __enter__(self):
        synchronize(self.device)
        if self.kind == "cuda":
            torch.cuda.reset_peak_memory_stats(torch.device(self.device))
            self.start = self.peak = memory_in_use(self.device)
            return self
        self.start = self.peak = release_memory(self.device) if self.kind == "cpu" else memory_in_use(self.device)
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        synchronize(self.device)
        if self.kind == "cuda":
            self.peak = max(self.peak, torch.cuda.max_memory_allocated(torch.device(self.device)))
        else:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak, memory_in_use(self.device))
        return False

    @property
    def added(self) -> int:
        """How much more than at the start the block needed at its peak."""
        return max(0, self.peak - self.start)
