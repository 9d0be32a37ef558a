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
import grp
import hashlib
import importlib.util
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HUB_PY = ROOT / "classroom" / "hub.py"
LEARNERS = ["lchub1", "lchub2", "lchub3"]
PREFIX_STEM = "llm-course-hubtest-"  # the real-hub test's prefix: tempfile.mkdtemp(prefix=PREFIX_STEM), root's, 0700
PREFIX = Path("/nonexistent")  # set by test_a_class_of_three
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


def run_main(args, monkeypatch, capsys, *, root=True, check=True):
    """hub.main as root (pretended); with ``--check`` unless told otherwise, so that a check that
    stopped working would end in a message here, never in a real useradd on the machine."""
    monkeypatch.setattr(hub.os, "geteuid", lambda: 0 if root else 1000)
    rc = hub.main([*args, "--check"] if check else args)
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


def load_auth():
    spec = importlib.util.spec_from_file_location("classroom_auth", ROOT / "classroom" / "auth.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


auth = load_auth()


def test_a_group_of_the_same_name_stops_it(tmp_path, monkeypatch, capsys):
    group = next((g.gr_name for g in grp.getgrall() if hub.NAME.match(g.gr_name) and not _is_user(g.gr_name)), None)
    if group is None:
        pytest.skip("this machine has no group without a user of the same name")
    (tmp_path / "names.txt").write_text(f"learner01\n{group}\n")
    rc, err = run_main([str(tmp_path / "names.txt"), "--prefix", str(tmp_path / "p")], monkeypatch, capsys)
    assert rc == 1 and f"A group of this name already exists, so it cannot be a learner's name: {group}" in err
    assert "그룹이 이미 있어" in err and not (tmp_path / "p").exists()


def _is_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def test_a_learner_group_is_accepted_only_as_the_own_accounts_group(monkeypatch):
    tagged = pwd.struct_passwd(("learner01", "x", 5001, 5001, hub.TAG, "/home/learner01", "/bin/bash"))
    users = {"learner01": tagged}
    groups = {"learner01": grp.struct_group(("learner01", "x", 5001, [])),
              "docker": grp.struct_group(("docker", "x", 998, []))}

    def lookup(table):
        def get(name):
            if name not in table:
                raise KeyError(name)
            return table[name]
        return get

    monkeypatch.setattr(hub.pwd, "getpwnam", lookup(users))
    monkeypatch.setattr(hub.grp, "getgrnam", lookup(groups))
    hub.check_accounts(["learner01", "learner02"])  # its own group (a second start), and a new name
    with pytest.raises(hub.Stop, match="group of this name already exists.*docker"):
        hub.check_accounts(["learner01", "docker"])
    groups["learner01"] = grp.struct_group(("learner01", "x", 4242, []))  # same name, not its group
    with pytest.raises(hub.Stop, match="learner01"):
        hub.check_accounts(["learner01"])


def test_an_idle_timeout_must_be_positive(tmp_path, monkeypatch, capsys):
    (tmp_path / "names.txt").write_text("learner01\n")
    rc, err = run_main([str(tmp_path / "names.txt"), "--prefix", str(tmp_path / "p"), "--idle-timeout", "0"],
                       monkeypatch, capsys)
    assert rc == 1 and "--idle-timeout must be a number of seconds above 0" in err and "0보다 큰" in err


@pytest.fixture
def nothing_installs(monkeypatch):
    """Every step that changes the machine raises: a test that reaches one fails loudly instead."""
    def refuse(*args, **kwargs):
        raise AssertionError("a set-up step ran before (or despite) the checks")

    for step in ("reachable_python", "install", "write_kernel", "prepare_cache", "make_learners", "launch"):
        monkeypatch.setattr(hub, step, refuse)
    monkeypatch.setattr(hub.subprocess, "run", lambda command, *a, **k: (
        refuse() if command and command[0] in ("useradd", "userdel", "chmod", "git") else real_run(command, *a, **k)))


real_run = subprocess.run


@pytest.mark.parametrize("names, extra, says", [
    ("learner01\nBad Name\n", [], "Not valid Unix user names"),
    ("learner01\nroot\n", [], "already exist and were not made by this script: root"),
    ("learner01\n", ["--idle-timeout", "-5"], "--idle-timeout must be"),
    ("learner01\n", ["--kernel-memory", "lots"], "Cannot read the memory size"),
])
def test_start_runs_every_check_before_it_installs(names, extra, says, tmp_path, monkeypatch, capsys, nothing_installs):
    (tmp_path / "names.txt").write_text(names)
    monkeypatch.setattr(hub, "find_node", lambda installed=True: "/usr/bin/node")
    rc, err = run_main([str(tmp_path / "names.txt"), "--prefix", str(tmp_path / "p"), "--port", str(hub.free_port()),
                        *extra], monkeypatch, capsys, check=False)
    assert rc == 1 and says in err
    assert not (tmp_path / "p").exists()


def test_after_the_checks_the_first_step_is_finding_a_python(tmp_path, monkeypatch, capsys):
    (tmp_path / "names.txt").write_text("learner01\n")
    monkeypatch.setattr(hub, "find_node", lambda installed=True: "/usr/bin/node")
    monkeypatch.setattr(hub.shutil, "which", lambda name: "/usr/bin/" + name)
    reached = []

    def first_step():
        reached.append("reachable_python")
        raise hub.Stop("멈춤", "stopped here")

    monkeypatch.setattr(hub, "reachable_python", first_step)
    monkeypatch.setattr(hub, "install", lambda *a: reached.append("install"))
    rc, err = run_main([str(tmp_path / "names.txt"), "--prefix", str(tmp_path / "p"), "--port", str(hub.free_port())],
                       monkeypatch, capsys, check=False)
    assert rc == 1 and "stopped here" in err and reached == ["reachable_python"]
    assert not (tmp_path / "p").exists()  # found before anything was made


# ---------------------------------------------------------------- the prefix root trusts


def test_a_prefix_others_can_write_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # no sticky bit: anyone could swap what root runs
    with pytest.raises(hub.Stop, match="not a folder that only root can change"):
        hub.check_prefix(shared / "prefix")
    shared.chmod(0o1777)  # sticky, as /tmp: others can add, not replace, so a folder below is fine
    hub.check_prefix(shared / "prefix")
    (shared / "prefix").mkdir(mode=0o700)
    hub.check_prefix(shared / "prefix")
    (shared / "prefix").chmod(0o1777)  # the prefix itself never shared, sticky or not
    with pytest.raises(hub.Stop):
        hub.check_prefix(shared / "prefix")


def test_a_linked_state_folder_or_lock_file_is_refused(tmp_path):
    prefix = tmp_path / "prefix"
    prefix.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (prefix / "state").symlink_to(elsewhere)
    with pytest.raises(hub.Stop, match="state is not a folder of root's"):
        hub.check_prefix(prefix)
    (prefix / "state").unlink()
    target = tmp_path / "etc-shadow-stand-in"
    target.write_text("keep me")
    (prefix / ".start.lock").symlink_to(target)
    with pytest.raises(hub.Stop, match="Cannot open the lock file"):
        with hub.start_lock(hub.Prefix(prefix)):
            pass
    assert target.read_text() == "keep me"
    (prefix / ".start.lock").unlink()
    with hub.start_lock(hub.Prefix(prefix)):
        assert (prefix / ".start.lock").stat().st_mode & 0o777 == 0o600
        with pytest.raises(hub.Stop, match="setting up or stopping this hub right now"):
            with hub.start_lock(hub.Prefix(prefix)):
                pass


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a folder to another user")
def test_a_prefix_another_user_owns_is_refused(tmp_path):
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, 65534, 65534)
    with pytest.raises(hub.Stop, match="owner uid 65534"):
        hub.check_prefix(theirs / "prefix")


# ---------------------------------------------------------------- log-in


def write_hashes(path: Path, passwords: dict) -> None:
    path.write_text(json.dumps({name: hub.hash_password(pw) for name, pw in passwords.items()}))


def test_the_authenticator_accepts_only_the_learners_own_password(tmp_path, monkeypatch):
    hashes = tmp_path / "passwords.json"
    write_hashes(hashes, {"learner01": "abcd-efgh-jkmn", "learner02": "pqrs-tuvw-xyz2"})
    assert auth.check_password(str(hashes), "learner01", "abcd-efgh-jkmn") == "learner01"
    assert auth.check_password(str(hashes), "learner01", "pqrs-tuvw-xyz2") is None  # another learner's
    assert auth.check_password(str(hashes), "learner01", "abcd-efgh-jkm") is None
    assert auth.check_password(str(hashes), "learner01", "") is None
    assert auth.check_password(str(hashes), "nobody", "abcd-efgh-jkmn") is None
    assert auth.check_password(str(hashes), "", "") is None
    assert auth.check_password(str(tmp_path / "missing.json"), "learner01", "abcd-efgh-jkmn") is None
    # An unknown name or an empty password costs the same hashing as a known one: no timing oracle.
    rounds = []
    real = auth.hashlib.pbkdf2_hmac
    monkeypatch.setattr(auth.hashlib, "pbkdf2_hmac", lambda *a: rounds.append(a[3]) or real(*a))
    for name, password in (("learner01", "wrong"), ("nobody", "wrong"), ("learner01", ""), ("", "")):
        auth.check_password(str(hashes), name, password)
    assert rounds == [hub.PBKDF2_ROUNDS] * 4 and auth.PBKDF2_ROUNDS == hub.PBKDF2_ROUNDS


HUB_ENV_PYTHON = ROOT / "classroom" / ".venv-hub" / "bin" / "python"


@pytest.mark.skipif(not HUB_ENV_PYTHON.exists(), reason="the hub's environment is not installed (./course.sh hub)")
def test_the_jupyterhub_authenticator_checks_in_a_thread(tmp_path):
    hashes = tmp_path / "passwords.json"
    write_hashes(hashes, {"learner01": "abcd-efgh-jkmn"})
    script = f"""
import asyncio, importlib.util, json
spec = importlib.util.spec_from_file_location("a", {str(ROOT / "classroom" / "auth.py")!r})
a = importlib.util.module_from_spec(spec); spec.loader.exec_module(a)
authenticator = a.WorkshopAuthenticator(passwords_file={str(hashes)!r})
async def ticker(ticks):
    while True:
        await asyncio.sleep(0.005); ticks.append(1)
async def main():
    ticks = []
    tick = asyncio.ensure_future(ticker(ticks))
    await asyncio.sleep(0.02)
    before = len(ticks)
    answers = [await authenticator.authenticate(None, {{"username": u, "password": p}}) for u, p in
               [("learner01", "abcd-efgh-jkmn"), ("Learner01", "abcd-efgh-jkmn"), ("learner01", "wrong"),
                ("nobody", "abcd-efgh-jkmn"), ("learner01", "")]]
    tick.cancel()
    print(json.dumps({{"answers": answers, "ticks": len(ticks) - before}}))
asyncio.run(main())
"""
    done = subprocess.run([str(HUB_ENV_PYTHON), "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["answers"] == ["learner01", "learner01", None, None, None]
    # Five hashings of 200,000 rounds: the event loop kept running meanwhile (the hashing is in a thread).
    assert result["ticks"] >= 5, result


def make_state(tmp_path: Path, names: list[str]) -> "hub.Prefix":
    prefix = hub.Prefix(tmp_path / "prefix")
    prefix.state.mkdir(parents=True, mode=0o700)
    prefix.settings.write_text(json.dumps({"learners": names}))
    plain = {name: hub.make_password() for name in names}
    hub.write_passwords(prefix, names, {n: hub.hash_password(p) for n, p in plain.items()}, plain)
    return prefix


def test_reset_password_changes_one_learners_password_only(tmp_path, monkeypatch, capsys):
    prefix = make_state(tmp_path, ["learner01", "learner02"])
    hashes_before, plain_before = hub.read_passwords(prefix)
    monkeypatch.setattr(hub.os, "geteuid", lambda: 0)
    assert hub.main(["--reset-password", "learner02", "--prefix", str(prefix.root)]) == 0
    out = capsys.readouterr().out
    hashes, plain = hub.read_passwords(prefix)
    assert plain["learner02"] != plain_before["learner02"] and f"learner02\t{plain['learner02']}" in out
    assert plain_before["learner01"] not in out and plain["learner01"] == plain_before["learner01"]
    assert hashes["learner01"] == hashes_before["learner01"]
    path = str(prefix.state / "passwords.json")
    assert auth.check_password(path, "learner02", plain["learner02"]) == "learner02"
    assert auth.check_password(path, "learner02", plain_before["learner02"]) is None
    for name in ("passwords.json", "passwords.txt"):
        assert (prefix.state / name).stat().st_mode & 0o777 == 0o600
    assert [p.name for p in prefix.state.iterdir() if p.name.endswith(".tmp")] == []
    assert "새 비밀번호" in out
    assert hub.main(["--reset-password", "learner09", "--prefix", str(prefix.root)]) == 1
    err = capsys.readouterr().err
    assert "learner09 is not on this hub's list of learners" in err and "명단에 없습니다" in err


def test_stop_finds_every_account_this_prefix_made(tmp_path, monkeypatch):
    prefix = make_state(tmp_path, ["learner01"])
    entry = lambda name, uid, gecos=hub.TAG: pwd.struct_passwd((name, "x", uid, uid, gecos, f"/home/{name}", "/bin/bash"))
    accounts = [entry("learner01", 5001), entry("dropped", 5002), entry("impostor", 5003),
                entry("roomtag", 5004, f"Some One,{hub.TAG},,"), entry("otherhub", 5005)]
    monkeypatch.setattr(hub.pwd, "getpwall", lambda: accounts)
    # learner01 is on the list; "dropped" left the list but this prefix made it; "impostor" wrote the
    # tag into its own comment (chfn), and "roomtag" into a field after its name; "otherhub" has the
    # name of an account this prefix once made, but not its uid (deleted and made again by someone else).
    prefix.accounts.write_text(json.dumps({"learner01": 5001, "dropped": 5002, "otherhub": 9999}))
    assert [e.pw_name for e in hub.learner_accounts(prefix)] == ["learner01", "dropped"]


def test_remove_learners_reports_what_userdel_could_not_do(tmp_path, monkeypatch, capsys):
    prefix = make_state(tmp_path, ["learner01", "learner02"])
    prefix.accounts.write_text(json.dumps({"learner01": 5001, "learner02": 5002}))
    entries = [pwd.struct_passwd((n, "x", u, u, hub.TAG, f"/home/{n}", "/bin/bash"))
               for n, u in (("learner01", 5001), ("learner02", 5002))]
    calls = []

    def fake_run(command, *a, **k):
        calls.append(command)
        failing = command[-1] == "learner02"
        return subprocess.CompletedProcess(command, 8 if failing else 0, "",
                                           "userdel: user learner02 is currently used by process 42" if failing else "")

    monkeypatch.setattr(hub.subprocess, "run", fake_run)
    assert hub.remove_learners(prefix, entries) is False
    out = capsys.readouterr().out
    assert calls == [["userdel", "--remove", "learner01"], ["userdel", "--remove", "learner02"]]
    assert "learner02 (userdel 8: userdel: user learner02 is currently used by process 42)" in out
    assert "Removed 1 learner accounts" in out and "지우지 못한" in out
    assert json.loads(prefix.accounts.read_text()) == {"learner02": 5002}  # still found by the next --stop


# ---------------------------------------------------------------- starting: the readiness probe


def fake_hub_prefix(tmp_path: Path, script: str) -> "tuple[hub.Prefix, dict]":
    prefix = hub.Prefix(tmp_path / "prefix")
    prefix.state.mkdir(parents=True, mode=0o700)
    fake = tmp_path / "fake-hub"
    fake.write_text("#!/bin/sh\n" + script)
    fake.chmod(0o755)
    return prefix, {"hub_python": str(fake), "learners": ["learner01"]}


def test_a_hub_that_never_answers_is_stopped_with_its_children(tmp_path, monkeypatch, capsys):
    import psutil

    prefix, settings = fake_hub_prefix(tmp_path, "sleep 377.25 &\nexec sleep 377.25\n")  # a child, like the proxy
    monkeypatch.setattr(hub, "START_TIMEOUT_S", 2)
    args = hub.argparse.Namespace(ip="127.0.0.1", port=hub.free_port(), prefix=str(prefix.root))
    with pytest.raises(hub.Stop, match="did not answer within 2 s and was stopped"):
        hub.launch(prefix, settings, {}, args)
    assert not prefix.pid.exists()
    time.sleep(0.5)
    left = [p for p in psutil.process_iter(["cmdline", "status"])
            if p.info["cmdline"] == ["sleep", "377.25"] and p.info["status"] != psutil.STATUS_ZOMBIE]
    assert left == [], left


def test_the_readiness_probe_ignores_proxies_of_the_environment(tmp_path, monkeypatch, capsys):
    import http.server

    class Api(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/hub/api/" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    dead_proxy = f"http://127.0.0.1:{hub.free_port()}"
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy"):
        monkeypatch.setenv(name, dead_proxy)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    prefix, settings = fake_hub_prefix(tmp_path, "exec sleep 300\n")
    monkeypatch.setattr(hub, "START_TIMEOUT_S", 20)
    args = hub.argparse.Namespace(ip="127.0.0.1", port=server.server_address[1], prefix=str(prefix.root))
    try:
        assert hub.launch(prefix, settings, {}, args) == 0
        assert "The class hub runs at" in capsys.readouterr().out
    finally:
        server.shutdown()
        pid = int(prefix.pid.read_text().split()[0])
        hub.end_process_group(pid, timeout=5)


# ---------------------------------------------------------------- course.sh hub and --check


def test_check_needs_only_the_standard_library(tmp_path):
    (tmp_path / "names.txt").write_text("learner01\n")
    script = f"""
import importlib.util, os, sys
os.geteuid = lambda: 0
before = set(sys.modules)
spec = importlib.util.spec_from_file_location("hub", {str(HUB_PY)!r})
hub = importlib.util.module_from_spec(spec); spec.loader.exec_module(hub)
hub.main(["--check", {str(tmp_path / "names.txt")!r}, "--prefix", {str(tmp_path / "p")!r}, "--port", "0"])
outside = sorted({{m.split(".")[0] for m in set(sys.modules) - before}} - set(sys.stdlib_module_names) - {{"hub"}})
print("OUTSIDE", outside)
"""
    # -S -I: no site-packages at all, as a fresh server's python3
    done = subprocess.run([sys.executable, "-S", "-I", "-c", script], capture_output=True, text=True, timeout=60)
    assert "Traceback" not in done.stderr, done.stderr
    assert "OUTSIDE []" in done.stdout, done.stdout + done.stderr
    assert not (tmp_path / "p").exists()


def course_sh_copy(tmp_path: Path, check_rc: int = 0) -> tuple[Path, dict]:
    """course.sh in a fresh copy, where ``python3`` and every venv's python only log how they were called."""
    repo = tmp_path / "repo"
    (repo / "classroom" / "node" / "node_modules" / "configurable-http-proxy").mkdir(parents=True)
    (repo / "classroom" / "node" / "node_modules" / "configurable-http-proxy" / "package.json").write_text("{}")
    for name in ("course.sh", "requirements.txt", "requirements-hub.txt", "pyproject.toml"):
        shutil.copy(ROOT / name, repo / name)
    (repo / "classroom" / "hub.py").write_text("# not run: the fake python logs the call\n")
    log = tmp_path / "calls"
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    fake = bin_ / "python3"
    fake.write_text(f"""#!/usr/bin/env bash
echo "$0 $*" >> {log}
if [ "$1" = -m ] && [ "$2" = venv ]; then mkdir -p "$3/bin" && cp "{fake}" "$3/bin/python"; fi
if [ "$1" = classroom/hub.py ] && [ "$2" = --check ]; then exit {check_rc}; fi
exit 0
""")
    fake.chmod(0o755)
    (bin_ / "id").write_text("#!/bin/sh\necho 0\n")  # course.sh hub asks for root
    (bin_ / "id").chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_}:/usr/bin:/bin", PYTHON="python3")
    return repo, env


def calls_of(tmp_path: Path, repo: Path) -> list[str]:
    return [line.replace(str(repo) + "/", "").replace(str(tmp_path / "bin") + "/", "")
            for line in (tmp_path / "calls").read_text().splitlines()]


def test_course_sh_hub_on_a_fresh_server_checks_then_installs_then_starts(tmp_path):
    repo, env = course_sh_copy(tmp_path)
    done = subprocess.run(["bash", "course.sh", "hub", "learners.txt", "--port", "8001"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    calls = calls_of(tmp_path, repo)
    assert calls[0].startswith("python3 -c") and calls[1] == "python3 classroom/hub.py --check learners.txt --port 8001"
    assert "python3 -m venv .venv" in calls and ".venv/bin/python -m venv classroom/.venv-hub" in calls
    assert any("requirements-hub.txt" in c for c in calls)
    assert calls[-1] == ".venv/bin/python classroom/hub.py learners.txt --port 8001"


def test_course_sh_hub_installs_nothing_when_the_check_fails(tmp_path):
    repo, env = course_sh_copy(tmp_path, check_rc=1)
    done = subprocess.run(["bash", "course.sh", "hub", "learners.txt"], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1
    assert not (repo / ".venv").exists() and not (repo / "classroom" / ".venv-hub").exists()


def test_course_sh_hub_stop_does_not_install_the_hub(tmp_path):
    repo, env = course_sh_copy(tmp_path)
    done = subprocess.run(["bash", "course.sh", "hub", "--stop"], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    calls = calls_of(tmp_path, repo)
    assert not any("--check" in c or "requirements-hub.txt" in c for c in calls)
    assert calls[-1] == ".venv/bin/python classroom/hub.py --stop"


def test_measure_runs_kernels_as_the_hub_does(monkeypatch):
    spec = importlib.util.spec_from_file_location("classroom_measure", ROOT / "classroom" / "measure.py")
    measure = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(measure)
    monkeypatch.setenv("OMP_NUM_THREADS", "8")
    monkeypatch.setenv("MKL_NUM_THREADS", "8")
    monkeypatch.setenv("LLM_COURSE_DEVICE", "cuda")
    env = measure.kernel_env()
    assert (env["OMP_NUM_THREADS"], env["MKL_NUM_THREADS"], env["LLM_COURSE_DEVICE"]) == ("1", "1", "cpu")


# ---------------------------------------------------------------- a class of three


def hub_tests_enabled() -> bool:
    return os.environ.get("LLM_COURSE_HUB_TESTS") == "1" or bool(os.environ.get("CI"))


def cache_snapshot(cache: Path) -> dict:
    return {str(p.relative_to(cache)): (p.stat().st_mode, p.stat().st_size, p.stat().st_mtime_ns, p.stat().st_uid,
                                        hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None)
            for p in sorted(cache.rglob("*"))}


DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


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
        with DIRECT.open(request, timeout=timeout) as answer:  # no proxy of the environment
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


def try_login(hub_: Hub, name: str, password: str) -> dict:
    """POST the hub's log-in form as a browser would (its XSRF token included); redirects not followed."""
    import http.cookiejar
    import re

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(jar),
                                         NoRedirect())
    with opener.open(f"{hub_.base}/hub/login", timeout=30) as page:
        xsrf = re.search(r'name="_xsrf"\s+value="([^"]+)"', page.read().decode()).group(1)
    form = urllib.parse.urlencode({"username": name, "password": password, "_xsrf": xsrf}).encode()
    try:
        with opener.open(urllib.request.Request(f"{hub_.base}/hub/login", data=form), timeout=60) as answer:
            status = answer.status
    except urllib.error.HTTPError as err:
        status = err.code
    return {"status": status, "session": sorted(c.name for c in jar if c.name.startswith("jupyterhub-hub-login"))}


def hub_command(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(HUB_PY), *args, "--prefix", str(PREFIX)], capture_output=True,
                          text=True, timeout=300, env=env)


def clean_up() -> None:
    """What this test or a crashed earlier run of it left: its hubs, accounts and prefixes."""
    global PREFIX
    current = PREFIX
    for old in Path(tempfile.gettempdir()).glob(PREFIX_STEM + "*"):
        if old.is_dir() and not old.is_symlink() and old.stat().st_uid == 0:
            PREFIX = old
            hub_command("--stop", "--remove-learners")
            shutil.rmtree(old, ignore_errors=True)
    PREFIX = current
    for name in LEARNERS:  # accounts a crashed earlier run left, made by hub.py (tagged)
        try:
            if hub.TAG in pwd.getpwnam(name).pw_gecos:
                subprocess.run(["userdel", "--remove", name], capture_output=True)
        except KeyError:
            pass


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

    global PREFIX
    begin = time.monotonic()
    clean_up()
    print(f"cleaning up before the start took {time.monotonic() - begin:.0f} s")
    PREFIX = Path(tempfile.mkdtemp(prefix=PREFIX_STEM))  # root's, 0700, a name no one could have prepared
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
        login = try_login(hub_, "lchub3", "wrong-" + hub_.passwords["lchub3"])
        assert login["status"] == 403 and not login["session"], login  # a wrong password is refused...
        login = try_login(hub_, "lchub3", hub_.passwords["lchub2"])
        assert login["status"] == 403 and not login["session"], login  # ...and so is another learner's
        login = try_login(hub_, "lchub3", hub_.passwords["lchub3"])
        assert login["status"] == 302 and login["session"], login  # the same form with the right one logs in
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
            f"  'torch_threads': __import__('torch').get_num_threads(),\n"
            f"  'memory_cap': list(__import__('resource').getrlimit(__import__('resource').RLIMIT_DATA)),\n"
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
                         "cache_write": True, "root_env": False, "threads": "1", "torch_threads": 1,
                         "memory_cap": [KERNEL_MEMORY, KERNEL_MEMORY], "cache_env": str(cache)}, facts
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
