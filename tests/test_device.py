"""llm_course.device: the CPU/CUDA/MPS differences notebooks 08 and 09 rely on, tested without a GPU."""

import pytest
import torch

from llm_course import device


@pytest.mark.parametrize("given, kind", [("cpu", "cpu"), ("cuda", "cuda"), ("cuda:0", "cuda"),
                                         (torch.device("cuda", 1), "cuda"), ("mps", "mps")])
def test_device_type_ignores_the_index(given, kind):
    assert device.device_type(given) == kind


@pytest.mark.parametrize("capability, fast", [((7, 5), False), ((7, 0), False), ((8, 0), True), ((9, 0), True)])
def test_bfloat16_counts_only_native_hardware(monkeypatch, capability, fast):
    # A T4 (7.5) or V100 (7.0) emulates bfloat16: torch.cuda.is_bf16_supported() says yes there by default.
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index=None: capability)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    assert device.fast_bfloat16("cuda") is fast
    assert device.fast_bfloat16("cuda:0") is fast
    assert device.half_dtype("cuda") == (torch.bfloat16 if fast else torch.float16)


def test_bfloat16_on_the_cpu_follows_onednn(monkeypatch):
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False, raising=False)
    assert device.fast_bfloat16("cpu") is False
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True, raising=False)
    assert device.fast_bfloat16("cpu") is True
    assert device.fast_bfloat16("mps") is False


def test_synchronize_calls_the_devices_own_wait(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda d=None: calls.append(("cuda", str(d))))
    monkeypatch.setattr(torch.mps, "synchronize", lambda: calls.append(("mps", None)))
    device.synchronize("cpu")
    device.synchronize("cuda:0")
    device.synchronize("mps")
    assert calls == [("cuda", "cuda:0"), ("mps", None)]


def test_peak_memory_on_the_cpu_sees_an_allocation():
    with device.PeakMemory("cpu", every=0.01) as memory:
        block = torch.ones(50_000_000)  # 200 MB
        block.add_(1)
        del block
    assert memory.added >= 150e6, memory.added
    assert memory.label == "process memory (RSS)"


def test_peak_memory_on_cuda_reads_the_allocators_peak(monkeypatch):
    state = {"now": 1000, "peak": 5000, "reset": 0}
    monkeypatch.setattr(torch.cuda, "synchronize", lambda d=None: None)
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda d=None: state.update(reset=state["reset"] + 1))
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda d=None: state["now"])
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda d=None: state["peak"])
    with device.PeakMemory("cuda:0") as memory:
        pass
    assert state["reset"] == 1
    assert (memory.start, memory.peak, memory.added) == (1000, 5000, 4000)
    assert "GPU" in memory.label and "GPU" in device.memory_label("cuda", "ko")


def test_memory_in_use_on_mps_reads_its_allocator(monkeypatch):
    monkeypatch.setattr(torch.mps, "current_allocated_memory", lambda: 1234)
    assert device.memory_in_use("mps") == 1234
    assert device.memory_label("mps", "ko").startswith("GPU 메모리")


def test_release_memory_returns_what_the_cpu_process_holds():
    held = device.release_memory("cpu")
    assert 50e6 < held < 20e9  # a Python process with torch loaded: tens of MB at least
