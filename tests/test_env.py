"""Unit tests of llm_course.env and the doctor command."""

import subprocess
import sys

import pytest
import torch

from llm_course import env


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
