"""Unit tests of llm_course.env and the doctor command."""

import subprocess
import sys

import pytest
import torch

from llm_course import device, env


def test_device_falls_back_to_cpu_and_rejects_missing_devices():
    device = env.get_device()
    assert device in {"cuda", "mps", "cpu"}
    assert env.get_device("cpu") == "cpu"
    if not torch.cuda.is_available():
        assert device != "cuda"
        with pytest.raises(ValueError, match="available: .*cpu"):
            env.get_device("cuda")


def test_environment_variable_forces_the_device(monkeypatch):
    monkeypatch.setenv(env.DEVICE_ENV_VAR, "cpu")
    assert env.get_device() == "cpu"
    assert "set by LLM_COURSE_DEVICE" in env.environment_report()["device"]
    if "cuda" not in env.available_devices():
        monkeypatch.setenv(env.DEVICE_ENV_VAR, "cuda")
        with pytest.raises(ValueError, match="LLM_COURSE_DEVICE=cuda") as err:
            env.get_device()
        assert "쓸 수 없습니다" in str(err.value)  # the learner reads it in Korean too


def test_set_seed_makes_sampling_repeatable():
    env.set_seed(123)
    a = torch.rand(5)
    env.set_seed(123)
    assert torch.equal(a, torch.rand(5))


def test_report_names_versions_device_and_cache():
    info = env.environment_report()
    for key in ("python", "torch", "transformers", "bitsandbytes", "device", "model cache",
                "smollm2-135m-instruct", "all-minilm-l6-v2"):
        assert key in info, key
    assert info["torch"] == torch.__version__
    assert info["running in"] == "local Python"
    assert not env.in_colab()


def test_doctor_command_runs_and_reports():
    done = subprocess.run([sys.executable, "-m", "llm_course", "doctor"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[ok] smollm2-135m-instruct" in done.stdout
    assert "hugging face hub" in done.stdout


def one_gpu_machine(monkeypatch):
    """A machine with one CUDA GPU, as far as get_device can tell (no GPU needed)."""
    monkeypatch.setattr(device, "available_devices", lambda: ["cuda", "cpu"])  # device.get_device asks it
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)


def test_a_gpu_index_the_machine_lacks_is_refused_in_both_languages(monkeypatch):
    one_gpu_machine(monkeypatch)
    assert env.get_device("cuda") == "cuda"
    assert env.get_device("cuda:0") == "cuda:0"
    with pytest.raises(ValueError, match=r"1 cuda device \(cuda:0\), numbered from 0") as err:
        env.get_device("cuda:7")
    assert "'cuda:7'(prefer=cuda:7)을 여기서 쓸 수 없습니다" in str(err.value)
    monkeypatch.setenv(env.DEVICE_ENV_VAR, "cuda:1")
    with pytest.raises(ValueError, match="LLM_COURSE_DEVICE=cuda:1"):
        env.get_device()
    with pytest.raises(ValueError, match="1 cpu device"):
        env.get_device("cpu:3")


def test_a_device_name_torch_cannot_read_gets_the_course_error(monkeypatch):
    one_gpu_machine(monkeypatch)
    for name in ("cuda:x", "gpu"):
        with pytest.raises(ValueError, match="not a device name") as err:
            env.get_device(name)
        assert "알아볼 수 없습니다" in str(err.value)


def test_report_names_the_gpu_of_an_indexed_cuda_device(monkeypatch):
    asked = []

    class Props:
        name, total_memory = "Fake GPU", 24e9

    monkeypatch.setattr(env, "get_device", lambda prefer=None: "cuda:1")
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index: asked.append(index) or Props())
    info = env.environment_report()
    assert asked == [1]
    assert info["gpu"] == "Fake GPU, 24.0 GB"


def test_report_on_apple_mps_says_the_memory_is_shared(monkeypatch):
    monkeypatch.setattr(env, "get_device", lambda prefer=None: "mps")
    monkeypatch.setattr(torch.mps, "recommended_max_memory", lambda: 12e9, raising=False)
    info = env.environment_report()
    assert info["device"].startswith("mps")
    assert info["gpu"] == "Apple GPU (Metal, MPS), memory shared with the CPU, 12.0 GB recommended at most"
