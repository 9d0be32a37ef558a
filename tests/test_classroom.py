"""The classroom hub (classroom/hub.py, ``./course.sh hub``): bad input first, then a real class of three.

The checks of bad input run everywhere in a second. The class itself (``test_a_class_of_three``)
needs root, Linux, Node 20+, the hub's environment and Chromium; it runs where
``LLM_COURSE_HUB_TESTS=1`` or ``CI`` is set (``./course.sh test`` runs it as its own job,
after the main suite, so its kernels do not compete with nbval's). It starts the hub on
127.0.0.1 with three learners, and all three run notebook 00 at the same time: one logs in
with a real browser (Chromium, through the hub's login page, spawn, JupyterLab, Run All,
then a widget), two through the REST API and the kernel websocket. Then it checks that no
cell failed, the shared cache was neither converted nor written, a learner's kernel cannot
read another's home, the admin token or root's environment and cannot allocate past its
memory cap, the browser session gets 403 on another learner's server, a second start is
refused, and ``--stop`` leaves no process and no port behind. Peak memory (PSS) per
learner and in total is printed (``pytest -rP``).
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HUB_PY = ROOT / "classroom" / "hub.py"
LEARNERS = ["lchub1", "lchub2", "lchub3"]
PREFIX = Path("/tmp/llm-course-hubtest")
NOTEBOOK = "llm-course/notebooks/ko/00_setup.ipynb"
KERNEL_MEMORY = 4 << 30
RUN_TIMEOUT_S = 150


def load_hub():
    spec = importlib.util.spec_from_file_location("classroom_hub", HUB_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hub = load_hub()


# ---------------------------------------------------------------- bad input: a message, nothing set up


def run_main(args, monkeypatch, capsys, *, root=True):
    monkeypatch.setattr(hub.os, "geteuid", lambda: 0 if root else 1000)
    rc = hub.main(args)
    return rc, capsys.readouterr().err


@pytest.mark.parametrize("names, says", [
    ("learner01\nBad Name\n", "Not valid Unix user names: 'Bad Name'"),
    ("learner01\n-dash\n", "Not valid Unix user names: '-dash'"),
    ("learner01\nlearner02\nlearner01\n", "more than once: learner01"),
    ("# only a comment\n\n", "names no learners"),
])
def test_a_bad_names_file_stops_before_anything_is_set_up(names, says, tmp_path, monkeypatch, capsys):
    (tmp_path / "names.txt").write_text(names)
    prefix = tmp_path / "prefix"
    rc, err = run_main([str(tmp_path / "names.txt"), "--prefix", str(prefix)], monkeypatch, capsys)
    assert rc == 1 and says in err
    assert "이름" in err  # Korean first
    assert not prefix.exists()


def test_without_root_it_says_so(tmp_path, monkeypatch, capsys):
    (tmp_path / "names.txt").write_text("learner01\n")
    rc, err = run_main([str(tmp_path / "names.txt"), "--prefix", str(tmp_path / "p")], monkeypatch, capsys, root=False)
    assert rc == 1 and "must run as root" in err and "root로" in err
    assert not (tmp_path / "p").exists()


def test_an_existing_account_is_not_taken_over(tmp_path, monkeypatch, capsys):
    (tmp_path / "names.txt").write_text("learner01\nroot\n")
    rc, err = run_main([str(tmp_path / "names.txt"), "--prefix", str(tmp_path / "p")], monkeypatch, capsys)
    assert rc == 1 and "already exist and were not made by this script: root" in err
    assert not (tmp_path / "p").exists()


def test_a_port_in_use_stops_it(tmp_path, monkeypatch, capsys):
    (tmp_path / "names.txt").write_text("learner01\n")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        rc, err = run_main([str(tmp_path / "names.txt"), "--prefix", str(tmp_path / "p"), "--port", str(port)],
                           monkeypatch, capsys)
    assert rc == 1 and f"Port {port} on 127.0.0.1 is already in use" in err and "포트" in err
    assert not (tmp_path / "p").exists()


def test_a_missing_node_stops_it(tmp_path, monkeypatch, capsys):
    (tmp_path / "names.txt").write_text("learner01\n")
    real_which = shutil.which
    monkeypatch.setattr(hub.shutil, "which", lambda name: None if name in ("node", "nodejs") else real_which(name))
    rc, err = run_main([str(tmp_path / "names.txt"), "--prefix", str(tmp_path / "p"), "--port", "0"],
                       monkeypatch, capsys)
    assert rc == 1 and "Node.js is missing" in err and "Node.js가 없습니다" in err
    assert not (tmp_path / "p").exists()


def test_passwords_are_checked_against_salted_hashes():
    password = hub.make_password()
    entry = hub.hash_password(password)
    assert password not in json.dumps(entry)
    again = hashlib.pbkdf2_hmac("sha256", password.encode(), bytes.fromhex(entry["salt"]), entry["rounds"]).hex()
    assert again == entry["hash"]
    assert len(password) == 14 and set(password) <= set(hub.PASSWORD_ALPHABET + "-")


# ---------------------------------------------------------------- a class of three


def hub_tests_enabled() -> bool:
    return os.environ.get("LLM_COURSE_HUB_TESTS") == "1" or bool(os.environ.get("CI"))


def cache_snapshot(cache: Path) -> dict:
    return {str(p.relative_to(cache)): (p.stat().st_mode, p.stat().st_size, p.stat().st_mtime_ns, p.stat().st_uid,
                                        hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None)
            for p in sorted(cache.rglob("*"))}


class Hub:
    def __init__(self, port: int):
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.token = (PREFIX / "state" / "admin-token").read_text().strip()
        self.passwords = dict(line.split("\t") for line in (PREFIX / "state" / "passwords.txt").read_text().splitlines())

    def api(self, method: str, path: str, body=None, timeout: float = 30):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Authorization": f"token {self.token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            text = answer.read()
        return json.loads(text) if text else None

    def wait_ready(self, name: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            server = self.api("GET", f"/hub/api/users/{name}")["servers"].get("")
            if server and server.get("ready"):
                return
            time.sleep(1)
        raise AssertionError(f"{name}'s server was not ready within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join((PREFIX / "state" / "hub.log").read_text(errors="replace").splitlines()[-lines:])


class Kernel:
    """One learner's kernel, driven through the hub: REST to start it, the websocket to run code."""

    def __init__(self, hub_: Hub, name: str):
        self.hub, self.name = hub_, name

    async def start(self, path: str) -> None:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        session = await asyncio.to_thread(self.hub.api, "POST", f"/user/{self.name}/api/sessions",
                                          {"path": path, "type": "notebook", "kernel": {"name": "python3"}})
        self.kernel_id = session["kernel"]["id"]
        url = f"ws://127.0.0.1:{self.hub.port}/user/{self.name}/api/kernels/{self.kernel_id}/channels"
        self.ws = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {self.hub.token}"}),
                                          max_message_size=64 << 20)

    async def run(self, code: str, timeout: float = RUN_TIMEOUT_S) -> tuple[str, list[dict]]:
        """(everything printed, error outputs) of one cell."""
        msg_id = uuid.uuid4().hex
        await self.ws.write_message(json.dumps({
            "header": {"msg_id": msg_id, "username": self.name, "session": uuid.uuid4().hex, "msg_type": "execute_request",
                       "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}))
        printed, errors = [], []
        deadline = time.monotonic() + timeout
        while True:
            raw = await asyncio.wait_for(self.ws.read_message(), max(1.0, deadline - time.monotonic()))
            if raw is None:
                raise AssertionError(f"{self.name}'s kernel websocket closed")
            if isinstance(raw, bytes):
                continue
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id or msg.get("channel") != "iopub":
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                printed.append(content["text"])
            elif kind in ("execute_result", "display_data"):
                printed.append(content.get("data", {}).get("text/plain", ""))
            elif kind == "error":
                errors.append(content)
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(printed), errors


async def run_notebook_over_rest(hub_: Hub, name: str, results: dict) -> None:
    start = time.monotonic()
    await asyncio.to_thread(hub_.api, "POST", f"/hub/api/users/{name}/server")
    await asyncio.to_thread(hub_.wait_ready, name)
    kernel = Kernel(hub_, name)
    await kernel.start(NOTEBOOK)
    notebook = json.loads(Path(pwd.getpwnam(name).pw_dir, NOTEBOOK).read_text(encoding="utf-8"))
    cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    printed, failed = [], []
    for n, cell in enumerate(cells, 1):
        out, errors = await kernel.run("".join(cell["source"]))
        printed.append(out)
        if errors and "raises-exception" not in cell.get("metadata", {}).get("tags", []):
            failed.append(f"cell {n}: {errors[0]['ename']}: {errors[0]['evalue']}")
    results[name] = {"cells": len(cells), "failed": failed, "printed": "\n".join(printed),
                     "seconds": time.monotonic() - start, "kernel": kernel}


class MemorySampler(threading.Thread):
    """Samples the PSS of every process of each learner twice a second; keeps the peaks."""

    def __init__(self, uids: dict[str, int]):
        super().__init__(daemon=True)
        self.uids, self.peak, self.peak_total, self.running = uids, dict.fromkeys(uids, 0), 0, True

    def run(self):
        import psutil

        by_uid = {uid: name for name, uid in self.uids.items()}
        while self.running:
            now = dict.fromkeys(self.uids, 0)
            for proc in psutil.process_iter(["uids"]):
                try:
                    name = by_uid.get(proc.info["uids"].real)
                    if name:
                        now[name] += proc.memory_full_info().pss
                except (psutil.Error, AttributeError):
                    continue
            for name, pss in now.items():
                self.peak[name] = max(self.peak[name], pss)
            self.peak_total = max(self.peak_total, sum(now.values()))
            time.sleep(0.5)


def run_in_browser(hub_: Hub, name: str, profile: Path, results: dict) -> None:
    """Log in as ``name`` on the hub's page, let the hub spawn the server, Run All on 00, then show a widget."""
    import browser_support as support
    from playwright.sync_api import sync_playwright

    start = time.monotonic()
    with sync_playwright() as playwright:
        browser = support.launch_chromium(playwright, profile)
        try:
            page = browser.new_page()
            page.goto(f"{hub_.base}/hub/login", timeout=60_000)
            page.fill("#username_input", name)
            page.fill("#password_input", hub_.passwords[name])
            page.click("#login_submit")
            page.wait_for_url(f"**/user/{name}/lab**", timeout=120_000)  # spawned, JupyterLab loading
            page.goto(f"{hub_.base}/user/{name}/lab/tree/{NOTEBOOK}?reset", timeout=60_000)
            tab = page.locator(".lm-TabBar-tab.jp-mod-current", has_text="00_setup.ipynb")
            tab.wait_for(timeout=90_000)
            panel = "#" + tab.get_attribute("data-id")
            page.wait_for_selector(f"{panel} .jp-Cell", timeout=60_000)
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                sessions = hub_.api("GET", f"/user/{name}/api/sessions")
                if (any(s["path"] == NOTEBOOK and s["kernel"]["execution_state"] == "idle" for s in sessions)
                        and page.get_attribute(f"{panel} .jp-Notebook-ExecutionIndicator", "data-status") == "idle"):
                    break
                time.sleep(0.5)
            support.run_all_cells(page)
            support.wait_all_cells_done(page, panel, RUN_TIMEOUT_S)
            prompts = support.cell_prompts(page, panel)
            errors = page.locator(f"{panel} .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']").count()
            # A widget, drawn by the hub environment's JupyterLab from the course kernel's ipywidgets.
            page.goto(f"{hub_.base}/user/{name}/lab/tree/widget_check.ipynb?reset", timeout=60_000)
            wtab = page.locator(".lm-TabBar-tab.jp-mod-current", has_text="widget_check.ipynb")
            wtab.wait_for(timeout=60_000)
            wpanel = "#" + wtab.get_attribute("data-id")
            page.wait_for_selector(f"{wpanel} .jp-Cell", timeout=60_000)
            time.sleep(2)
            support.run_all_cells(page)
            page.wait_for_selector(f"{wpanel} .jupyter-widgets.widget-slider", timeout=60_000)
            widget_text = page.inner_text(f"{wpanel} .jp-OutputArea")
            # Another learner's server, from this learner's browser session.
            answer = page.goto(f"{hub_.base}/user/lchub2/lab", timeout=60_000)
            results[name] = {"cells": len(prompts), "prompts": prompts, "error_outputs": errors,
                             "widget_text": widget_text, "other_status": answer.status if answer else None,
                             "other_text": page.inner_text("body")[:300], "seconds": time.monotonic() - start}
        finally:
            browser.close()


def write_widget_notebook(home: Path, uid: int, gid: int) -> None:
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                                 "language": "python"}},
                "cells": [{"cell_type": "code", "id": "w1", "metadata": {}, "execution_count": None, "outputs": [],
                           "source": "import ipywidgets as w\nw.IntSlider(value=3, description='check')"}]}
    path = home / "widget_check.ipynb"
    path.write_text(json.dumps(notebook))
    os.chown(path, uid, gid)


def strip_outputs(path: Path) -> None:
    import browser_support as support

    stat = path.stat()
    support.copy_without_outputs(path, path)
    os.chown(path, stat.st_uid, stat.st_gid)


def hub_command(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(HUB_PY), *args, "--prefix", str(PREFIX)], capture_output=True,
                          text=True, timeout=300, env=env)


def clean_up() -> None:
    hub_command("--stop", "--remove-learners")
    for name in LEARNERS:  # accounts a crashed earlier run left, made by hub.py (tagged)
        try:
            if hub.TAG in pwd.getpwnam(name).pw_gecos:
                subprocess.run(["userdel", "--remove", name], capture_output=True)
        except KeyError:
            pass
    shutil.rmtree(PREFIX, ignore_errors=True)


def test_a_class_of_three(tmp_path):
    if not hub_tests_enabled():
        pytest.skip("the classroom hub test is opt-in: LLM_COURSE_HUB_TESTS=1 ./course.sh test (root, Linux; CI runs it)")
    if os.geteuid() != 0 or sys.platform != "linux":
        pytest.fail("the classroom hub test needs root on Linux (it makes Unix accounts)")
    sys.path.insert(0, str(ROOT / "tests"))
    import browser_support as support

    missing = support.missing_requirements()
    if not (ROOT / "classroom" / ".venv-hub" / "bin" / "python").exists():
        missing.append("the hub's environment: ./course.sh hub installs it (CI: ./course.sh test)")
    assert not missing, "the classroom hub test cannot run:\n  - " + "\n  - ".join(missing)
    import psutil

    begin = time.monotonic()
    clean_up()
    print(f"cleaning up before the start took {time.monotonic() - begin:.0f} s")
    names = tmp_path / "learners.txt"
    names.write_text("\n".join(LEARNERS) + "\n")
    port = support.free_port()
    env = dict(os.environ, LLM_COURSE_HUB_TEST_ROOT_SECRET="s3cr3t-of-root")  # must not reach a kernel
    timings = {}
    try:
        begin = time.monotonic()
        started = hub_command(str(names), "--port", str(port), "--kernel-memory", str(KERNEL_MEMORY), env=env)
        timings["start"] = time.monotonic() - begin
        assert started.returncode == 0, started.stdout + started.stderr
        assert "s3cr3t-of-root" not in started.stdout and (PREFIX / "state" / "admin-token").read_text().strip() \
            not in started.stdout + started.stderr  # the admin token is never printed
        again = hub_command(str(names), "--port", str(support.free_port()))
        assert again.returncode == 1 and "already running" in again.stderr, again.stdout + again.stderr
        hub_ = Hub(port)
        for path in (PREFIX / "state", PREFIX / "state" / "admin-token", PREFIX / "state" / "passwords.txt",
                     PREFIX / "state" / "jupyterhub_cookie_secret"):
            assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"
        cache = PREFIX / "cache"
        before = cache_snapshot(cache)
        uids = {name: pwd.getpwnam(name).pw_uid for name in LEARNERS}
        for name in LEARNERS:
            home = Path(pwd.getpwnam(name).pw_dir)
            assert home.stat().st_mode & 0o777 == 0o700, f"{home} is {oct(home.stat().st_mode)}"
        home1 = Path(pwd.getpwnam("lchub1").pw_dir)
        strip_outputs(home1 / NOTEBOOK)
        write_widget_notebook(home1, uids["lchub1"], pwd.getpwnam("lchub1").pw_gid)

        sampler = MemorySampler(uids)
        sampler.start()
        results: dict = {}

        def rest_learners():
            async def both():
                await asyncio.gather(*(run_notebook_over_rest(hub_, n, results) for n in LEARNERS[1:]))
            loop.run_until_complete(both())

        loop = asyncio.new_event_loop()
        rest = threading.Thread(target=rest_learners, daemon=True)
        begin = time.monotonic()
        rest.start()
        run_in_browser(hub_, "lchub1", tmp_path / "chromium", results)
        rest.join(RUN_TIMEOUT_S + 120)
        timings["three notebooks at once"] = time.monotonic() - begin
        sampler.running = False
        assert set(results) == set(LEARNERS), f"not every learner finished: {sorted(results)}\n{hub_.log_tail()}"

        browser = results["lchub1"]
        assert browser["error_outputs"] == 0, browser
        assert browser["other_status"] == 403, (browser["other_status"], browser["other_text"])
        assert "check" in browser["widget_text"] and "Error displaying widget" not in browser["widget_text"]
        for name in LEARNERS[1:]:
            assert results[name]["failed"] == [], f"{name}: {results[name]['failed']}"
            assert "Converting" not in results[name]["printed"] and "변환해" not in results[name]["printed"]
        assert cache_snapshot(cache) == before, "the shared cache was written"

        # What a learner's kernel may not do, asked in learner 2's kernel after its run.
        kernel = results["lchub2"]["kernel"]
        probe = (
            "import os, json\n"
            "def denied(action):\n"
            "    try:\n"
            "        action(); return False\n"
            "    except PermissionError:\n"
            "        return True\n"
            f"home1 = {str(home1)!r}\n"
            f"print(json.dumps({{\n"
            f"  'other_home': denied(lambda: os.listdir(home1)),\n"
            f"  'other_notebook': denied(lambda: open(home1 + '/' + {NOTEBOOK!r}).read()),\n"
            f"  'admin_token': denied(lambda: open({str(PREFIX / 'state' / 'admin-token')!r}).read()),\n"
            f"  'passwords': denied(lambda: open({str(PREFIX / 'state' / 'passwords.json')!r}).read()),\n"
            f"  'cache_write': denied(lambda: open({str(cache)!r} + '/intruder', 'w')),\n"
            f"  'root_env': 'LLM_COURSE_HUB_TEST_ROOT_SECRET' in os.environ,\n"
            f"  'threads': os.environ.get('OMP_NUM_THREADS'),\n"
            f"  'cache_env': os.environ.get('LLM_COURSE_CACHE'),\n"
            f"}}))\n")

        async def ask():
            facts, errors = await kernel.run(probe, timeout=30)
            capped, cap_errors = await kernel.run(
                f"try:\n    block = bytearray({KERNEL_MEMORY + (512 << 20)})\n    print('allocated')\n"
                "except MemoryError:\n    print('MemoryError')\n", timeout=30)
            alive, _ = await kernel.run("print(6 * 7)", timeout=30)
            return facts, errors, capped, cap_errors, alive

        facts, errors, capped, cap_errors, alive = loop.run_until_complete(ask())
        assert not errors, errors
        facts = json.loads(facts)
        assert facts == {"other_home": True, "other_notebook": True, "admin_token": True, "passwords": True,
                         "cache_write": True, "root_env": False, "threads": "1", "cache_env": str(cache)}, facts
        assert capped.strip() == "MemoryError" and not cap_errors, (capped, cap_errors)
        assert alive.strip() == "42"  # the kernel survived its failed allocation

        peaks = {name: sampler.peak[name] / 1e9 for name in LEARNERS}
        print(f"timings (s): start {timings['start']:.0f}, three learners running 00 at once "
              f"{timings['three notebooks at once']:.0f} (browser {browser['seconds']:.0f}, "
              + ", ".join(f"{n} {results[n]['seconds']:.0f}" for n in LEARNERS[1:]) + ")")
        print("peak PSS per learner (GB): " + ", ".join(f"{n} {p:.2f}" for n, p in peaks.items())
              + f"; peak total {sampler.peak_total / 1e9:.2f} GB")
        settings = json.loads((PREFIX / "state" / "settings.json").read_text())
        kernel.ws.close()
    finally:
        log = PREFIX / "state" / "hub.log"
        if log.exists():  # kept for a failure's post-mortem: the prefix goes below
            shutil.copy(log, tmp_path / "hub.log")
            print(f"the hub's log: {tmp_path / 'hub.log'}")
        begin = time.monotonic()
        stopped = hub_command("--stop")
        print(f"--stop took {time.monotonic() - begin:.0f} s")
        left = [p.info for p in psutil.process_iter(["pid", "username", "cmdline"])
                if p.info["username"] in LEARNERS or str(PREFIX) in " ".join(p.info["cmdline"] or [])]
        clean_up()
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert left == [], f"--stop left processes behind: {left}"
    for port_ in (port, settings["hub_port"], settings["proxy_api_port"]):
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port_)) != 0, f"port {port_} still answers after --stop"
