"""What differs between a CPU, a CUDA GPU and Apple's MPS, in one place (notebooks 08 and 09).

Timing and memory need the device's own tools: a GPU runs work asynchronously, so a
timer must wait for it (:func:`synchronize`); its memory lives in the device's
allocator, not in the process's RSS (:class:`PeakMemory`, :func:`memory_in_use`);
bfloat16 is fast only on some hardware (:func:`fast_bfloat16`). Every helper takes a
device as a string (``"cpu"``, ``"cuda"``, ``"cuda:0"``, ``"mps"``) or a
``torch.device``, and every memory figure says which memory it is (:func:`memory_label`).
"""

from __future__ import annotations

import threading

import torch


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


def memory_label(device, lang: str = "en") -> str:
    """What :func:`memory_in_use` and :class:`PeakMemory` measure on ``device``, for printing beside the number."""
    kind = device_type(device)
    labels = {
        "cuda": ("GPU 메모리(CUDA 할당기가 텐서에 내준 양)", "GPU memory (tensors in CUDA's allocator)"),
        "mps": ("GPU 메모리(MPS 할당기가 텐서에 내준 양)", "GPU memory (tensors in MPS's allocator)"),
        "cpu": ("프로세스 메모리(RSS)", "process memory (RSS)"),
    }
    ko, en = labels.get(kind, labels["cpu"])
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
    ``label`` says which memory both are.
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
