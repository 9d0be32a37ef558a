"""A JupyterHub for a class on one Linux server: ``./course.sh hub LEARNERS.txt`` (as root); ``./course.sh hub --stop``.

What it does, in order, and only after every check passed (so bad input leaves nothing half set up):

1. checks: root, a valid names file (Unix names, no duplicates, no existing account that is
   not a learner account made here, no existing group but such an account's own), a prefix
   only root can change, the port free, Node 20+ and configurable-http-proxy (installed by
   ``course.sh``), no hub of this prefix already running, a Python every learner can run;
2. installs, under ``--prefix`` (default /opt/llm-course), what every learner may run: the
   course's environment (``course/``, a copy of .venv on a Python every user can run), the
   hub's (``hub/``, from ``requirements-hub.txt``), the proxy, the course kernel as the only
   kernel (one torch thread, the shared cache, a per-kernel memory cap), the notebooks as a
   git repository (``material/``);
3. prepares the model cache once (``cache/``) and makes it read-only;
4. makes one Unix account per learner (home 0700), a copy of the notebooks in each home
   (``~/llm-course``, a clone of ``material/`` that nbgitpuller can update), and a generated
   password each, printed once for the instructor and kept in a root-only file;
5. starts JupyterHub (proxy on the chosen address, default 127.0.0.1:8000; the hub and
   learners' servers on loopback) with the idle culler, in the background.

``--stop`` stops the hub, the proxy, every learner's server and kernel (of every account this
prefix ever made, also of learners since dropped from the list), and checks that the port is
free. ``--reset-password NAME`` gives one learner a new password, also while the hub runs (it
reads the hashes at every log-in). Nothing is downloaded here: ``course.sh`` installs everything
beforehand.

``--check`` (what ``course.sh`` asks before installing anything) imports nothing outside Python's
standard library, so any ``python3`` runs it on a fresh server; psutil is imported where needed.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import grp
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "classroom"
HUB_VENV = HERE / ".venv-hub"
CHP = HERE / "node" / "node_modules" / "configurable-http-proxy" / "bin" / "configurable-http-proxy"
COURSE_VENV = ROOT / ".venv"
TAG = "llm-course learner"  # the accounts' comment field: only these are ever changed or removed
NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,30}$")
PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud or from a slip
PBKDF2_ROUNDS = 200_000  # classroom/auth.py checks with the same number
DEFAULT_KERNEL_MEMORY = "6G"
START_TIMEOUT_S = 90


class Stop(Exception):
    """A bilingual message for the instructor; nothing was changed."""

    def __init__(self, ko: str, en: str):
        super().__init__(f"{ko}\n{en}")


def say(ko: str, en: str) -> None:
    print(f"{ko}\n{en}", flush=True)


# --------------------------------------------------------------------------- paths


class Prefix:
    def __init__(self, root: Path):
        self.root = root
        self.course = root / "course"          # the course's environment (learners' kernels)
        self.hub = root / "hub"                # JupyterHub, JupyterLab, the idle culler, nbgitpuller
        self.proxy = root / "proxy"            # configurable-http-proxy's node_modules
        self.cache = root / "cache"            # the model cache, prepared once, read-only
        self.material = root / "material"      # the notebooks, a git repository learners clone
        self.state = root / "state"            # root only (0700): settings, passwords, token, database, logs
        self.settings = self.state / "settings.json"
        self.pid = self.state / "hub.pid"
        self.lock = root / ".start.lock"
        self.accounts = self.state / "accounts.json"  # every account this prefix made: name -> uid
        self.log = self.state / "hub.log"
        self.config = self.hub / "etc" / "llm-course" / "jupyterhub_config.py"
        self.gitconfig = self.hub / "etc" / "llm-course" / "gitconfig"
        self.launcher = self.hub / "etc" / "llm-course" / "kernel_launcher.py"

    def python(self, env: Path) -> Path:
        return env / "bin" / "python"


# --------------------------------------------------------------------------- checks


def read_learners(path: Path) -> list[str]:
    """The names in ``path``: one a line, blank lines and ``#`` comments ignored."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise Stop(f"학습자 명단 파일 {path}을(를) 읽을 수 없습니다({err.strerror}). 한 줄에 한 명씩 이름을 적은 파일을 주세요.",
                   f"Cannot read the learners file {path} ({err.strerror}). Give a file with one name per line.")
    names = [line.split("#", 1)[0].strip() for line in lines]
    names = [n for n in names if n]
    bad = [n for n in names if not NAME.match(n)]
    if bad:
        raise Stop(f"Unix 사용자 이름으로 쓸 수 없는 이름이 있습니다: {', '.join(map(repr, bad))}. "
                   "소문자로 시작하고 소문자·숫자·_·-만 써서 32자 이내로 적으세요(예: learner01).",
                   f"Not valid Unix user names: {', '.join(map(repr, bad))}. Use a lower-case letter first, "
                   "then lower-case letters, digits, _ or -, at most 32 characters (for example learner01).")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise Stop(f"명단에 같은 이름이 두 번 이상 있습니다: {', '.join(dupes)}. 한 번씩만 적으세요.",
                   f"The learners file names someone more than once: {', '.join(dupes)}. List each learner once.")
    if not names:
        raise Stop(f"{path}에 학습자 이름이 없습니다.", f"{path} names no learners.")
    return names


def is_tagged(entry) -> bool:
    """An account this script made: its full name (the comment's first field) is exactly TAG."""
    return entry.pw_gecos.split(",", 1)[0] == TAG


def check_accounts(names: list[str]) -> None:
    taken, groups = [], []
    for name in names:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            entry = None
        if entry is not None and not is_tagged(entry):
            taken.append(name)
            continue
        try:
            group = grp.getgrnam(name)
        except KeyError:
            continue
        # useradd --user-group makes a group of the learner's name: an existing one (sudo, docker,
        # staff, users) is acceptable only as the primary group of the learner account made here.
        if entry is None or group.gr_gid != entry.pw_gid:
            groups.append(name)
    if taken:
        raise Stop(f"이미 있는 계정이라 학습자 계정으로 쓸 수 없습니다: {', '.join(taken)}. 다른 이름을 쓰세요"
                   "(이 스크립트는 자기가 만든 계정만 바꿉니다).",
                   f"These accounts already exist and were not made by this script: {', '.join(taken)}. "
                   "Choose other names (it changes only the accounts it made).")
    if groups:
        raise Stop(f"같은 이름의 그룹이 이미 있어 학습자 이름으로 쓸 수 없습니다: {', '.join(groups)}. 다른 이름을 쓰세요"
                   "(학습자마다 자기 이름의 그룹을 새로 만듭니다).",
                   f"A group of this name already exists, so it cannot be a learner's name: {', '.join(groups)}. "
                   "Choose other names (each learner gets a new group of their own name).")


def check_prefix(root: Path) -> None:
    """Refuse a prefix that anyone but root could change: root runs and trusts what is in it.

    The prefix and every folder above it that exists must belong to root (or to whoever runs
    this, for the tests) and be writable by nobody else, except a folder above it with the sticky
    bit (/tmp); ``state`` must be a real folder (not a link) of root's.
    """
    owners = {0, os.getuid()}
    path = root
    while True:
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            info = None
        if info is not None:
            shared = info.st_mode & 0o022 and not (path != root and info.st_mode & stat.S_ISVTX)
            if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode) or info.st_uid not in owners or shared:
                raise Stop(f"{path}은(는) root만 바꿀 수 있는 폴더가 아닙니다(소유자 uid {info.st_uid}, 권한 "
                           f"{oct(info.st_mode & 0o7777)}). 다른 사용자가 고칠 수 있는 곳에는 설치하지 않습니다. "
                           "root 소유이고 다른 사용자가 쓸 수 없는 --prefix를 고르세요(기본: /opt/llm-course).",
                           f"{path} is not a folder that only root can change (owner uid {info.st_uid}, mode "
                           f"{oct(info.st_mode & 0o7777)}); the hub will not install where another user could change "
                           "what root runs. Choose a --prefix owned by root and writable by no one else "
                           "(default /opt/llm-course).")
        if path.parent == path:
            break
        path = path.parent
    check_state(root / "state", must_exist=False)


def check_state(state: Path, must_exist: bool = True) -> None:
    try:
        info = os.lstat(state)
    except FileNotFoundError:
        if must_exist:
            raise
        return
    if not stat.S_ISDIR(info.st_mode) or info.st_uid not in {0, os.getuid()}:
        raise Stop(f"{state}이(가) root 소유의 폴더가 아닙니다(링크이거나 다른 사용자의 것). 지우고 다시 실행하세요.",
                   f"{state} is not a folder of root's (a link, or someone else's); remove it and run again.")


def port_free(ip: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((ip, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def find_node(installed: bool = True) -> str:
    node = shutil.which("node") or shutil.which("nodejs")
    install = "sudo apt-get install nodejs (Node 20 or newer; https://nodejs.org)"
    if node is None:
        raise Stop(f"Node.js가 없습니다. 프록시(configurable-http-proxy)에 필요합니다. 설치: {install}",
                   f"Node.js is missing; the proxy (configurable-http-proxy) needs it. Install it: {install}")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    major = int(re.match(r"v?(\d+)", version).group(1)) if re.match(r"v?(\d+)", version) else 0
    if major < 20:
        raise Stop(f"Node.js {version}은(는) 너무 오래되었습니다. 20 이상이 필요합니다: {install}",
                   f"Node.js {version} is too old; the proxy needs 20 or newer: {install}")
    if installed and (not CHP.exists() or not (HUB_VENV / "bin" / "python").exists()
                      or not (COURSE_VENV / "bin" / "python").exists()):
        raise Stop("허브 환경이 설치되어 있지 않습니다. ./course.sh hub 로 실행하세요(설치를 먼저 합니다).",
                   "The hub's environment is not installed. Run it as ./course.sh hub, which installs it first.")
    return node


def running_pid(prefix: Prefix) -> int | None:
    """The pid of this prefix's hub if it runs (the pid file also holds its start time, against reused pids)."""
    try:
        pid, started = prefix.pid.read_text().split()
        import psutil

        proc = psutil.Process(int(pid))
        return int(pid) if abs(proc.create_time() - float(started)) < 1 and proc.is_running() else None
    except (OSError, ValueError, ImportError, Exception):  # noqa: BLE001 - no file, no process: not running
        return None


@contextlib.contextmanager
def start_lock(prefix: Prefix):
    """The prefix's lock, held while it is set up, stopped or a password reset: one of them at a time."""
    try:
        fd = os.open(prefix.lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as err:  # a link (ELOOP) or something else in its place: never followed as root
        raise Stop(f"잠금 파일 {prefix.lock}을(를) 열 수 없습니다({err.strerror}). 링크이거나 일반 파일이 아니면 지우고 다시 하세요.",
                   f"Cannot open the lock file {prefix.lock} ({err.strerror}); if it is a link or not a plain file, "
                   "remove it and try again.") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise Stop("다른 ./course.sh hub 가 지금 이 허브를 준비하거나 멈추고 있습니다. 끝난 뒤에 다시 하세요.",
                       "Another ./course.sh hub is setting up or stopping this hub right now; try again when it is "
                       "done.") from None
        yield
    finally:
        os.close(fd)


def parse_size(text: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMG]?)i?B?", text.strip(), re.IGNORECASE)
    if not match:
        raise Stop(f"메모리 크기 {text!r}를 읽을 수 없습니다. 예: 4G, 3500M.",
                   f"Cannot read the memory size {text!r}; write for example 4G or 3500M.")
    scale = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[match.group(2).upper()]
    return int(float(match.group(1)) * scale)


# --------------------------------------------------------------------------- installing


def reachable_python() -> Path:
    """A Python of the course's version that every user can run.

    The course's .venv may have been made from a Python under the instructor's home (pyenv,
    uv), which learners cannot enter; then the system's python3.X of the same version serves.
    """
    info = subprocess.run([str(COURSE_VENV / "bin" / "python"), "-c",
                           "import sys, os; print(os.path.realpath(sys._base_executable)); "
                           "print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True, check=True)
    base, version = info.stdout.split()
    for candidate in (base, f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"):
        if Path(candidate).exists() and runs_as_nobody([candidate, "-c", "import venv, ssl, sqlite3"]):
            return Path(candidate)
    raise Stop(f"학습자 계정이 실행할 수 있는 Python {version}이 없습니다(.venv의 Python {base}은(는) 다른 사용자가 "
               f"들어갈 수 없는 곳에 있습니다). 설치: sudo apt-get install python{version} python{version}-venv",
               f"No Python {version} that learners' accounts can run: the course's .venv uses {base}, which "
               f"other users cannot reach. Install one: sudo apt-get install python{version} python{version}-venv")


def runs_as_nobody(command: list[str]) -> bool:
    try:
        done = subprocess.run(command, user="nobody", group=_nogroup(), capture_output=True, cwd="/",
                              env={"PATH": "/usr/bin:/bin"}, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _nogroup() -> str:
    for name in ("nogroup", "nobody"):
        try:
            grp.getgrnam(name)
            return name
        except KeyError:
            pass
    return "65534"


def site_packages(venv: Path) -> Path:
    found = sorted((venv / "lib").glob("python3.*/site-packages"))
    if not found:
        raise Stop(f"{venv}에 site-packages가 없습니다. ./course.sh hub 로 다시 설치하세요.",
                   f"{venv} has no site-packages; run ./course.sh hub to install it again.")
    return found[0]


def copy_env(source: Path, target: Path, python: Path, stamp: str) -> None:
    """A fresh venv at ``target`` on ``python``, holding ``source``'s packages; skipped when ``stamp`` matches."""
    marker = target / ".llm-course-stamp"
    if marker.exists() and marker.read_text() == stamp:
        return
    print(f"== {target}  ({source} →, a few seconds to a minute)", flush=True)
    if target.exists():
        shutil.rmtree(target)
    subprocess.run([str(python), "-m", "venv", "--without-pip", str(target)], check=True)
    into = site_packages(target)
    shutil.rmtree(into)
    # Editable installs point into the repository, which learners may not reach: left out, and
    # the course package is copied in whole below.
    shutil.copytree(site_packages(source), into, symlinks=True,
                    ignore=shutil.ignore_patterns("__editable__*", "*.egg-link"))
    # What packages install beside site-packages: JupyterHub's templates, JupyterLab's static files
    # and extensions (the widgets' too), Jupyter's and IPython's configuration.
    for part in ("share", "etc"):
        if (source / part).is_dir():
            shutil.copytree(source / part, target / part, symlinks=True, dirs_exist_ok=True)
    marker.write_text(stamp)


def install_course_package(prefix: Prefix) -> None:
    into = site_packages(prefix.course)
    package = into / "llm_course"
    if package.exists():
        shutil.rmtree(package)
    shutil.copytree(ROOT / "llm_course", package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "assets", package / "assets", ignore=shutil.ignore_patterns("__pycache__"))
    (package / "assets" / "__init__.py").touch()
    subprocess.run([str(prefix.python(prefix.course)), "-m", "compileall", "-q", str(package)], check=True)


def tree_digest(*paths: Path) -> str:
    digest = hashlib.sha256()
    for base in paths:
        for path in sorted(base.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(base.parent)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def course_stamp() -> str:
    stamps = sorted(p.name for p in COURSE_VENV.glob(".course-setup-*"))
    return f"{stamps}"


def write_kernel(prefix: Prefix, settings: dict) -> None:
    """The course kernel, named python3 (the notebooks ask for that name), as the hub environment's only kernel."""
    kernels = prefix.hub / "share" / "jupyter" / "kernels"
    shutil.rmtree(kernels, ignore_errors=True)
    (kernels / "python3").mkdir(parents=True)
    prefix.launcher.parent.mkdir(parents=True, exist_ok=True)
    prefix.launcher.write_text(
        '"""Starts an IPython kernel of the course with a memory cap (classroom/hub.py writes this file)."""\n'
        "import os, resource, runpy, sys\n"
        "cap = int(os.environ.get('LLM_COURSE_KERNEL_MEMORY', '0'))\n"
        "if cap > 0:  # private writable memory (heap, tensors); the shared, read-only model cache is not counted\n"
        "    resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))\n"
        "sys.argv[0] = 'ipykernel_launcher'\n"
        "runpy.run_module('ipykernel_launcher', run_name='__main__', alter_sys=True)\n")
    spec = {
        "argv": [str(prefix.python(prefix.course)), str(prefix.launcher), "-f", "{connection_file}"],
        "display_name": "Python 3 (LLM course)",
        "language": "python",
        "metadata": {"debugger": True},
        "env": settings["kernel_env"],
    }
    (kernels / "python3" / "kernel.json").write_text(json.dumps(spec, indent=1))
    config = prefix.hub / "etc" / "jupyter" / "jupyter_server_config.d"
    config.mkdir(parents=True, exist_ok=True)
    (config / "llm-course.json").write_text(json.dumps({
        "KernelSpecManager": {"ensure_native_kernel": False, "allowed_kernelspecs": ["python3"]},
        # Offline and quiet: no news feed, no update check, no language servers to look for.
        "LabApp": {"news_url": None, "check_for_updates_class": "jupyterlab.NeverCheckForUpdate"},
        "ServerApp": {"jpserver_extensions": {"jupyter_lsp": False}},
    }, indent=1))
    overrides = prefix.hub / "share" / "jupyter" / "lab" / "settings"
    overrides.mkdir(parents=True, exist_ok=True)
    (overrides / "overrides.json").write_text(json.dumps({
        "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
        "@jupyterlab/extensionmanager-extension:plugin": {"enabled": False},
    }, indent=1))


def prepare_material(prefix: Prefix) -> None:
    """The notebooks and solutions, laid out as in the repository (they link ../../solutions/), as a git repository."""
    material = prefix.material
    material.mkdir(parents=True, exist_ok=True)
    for part in ("notebooks/ko", "notebooks/en", "solutions"):
        target = material / part
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(ROOT / part, target, ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    git = ["git", "-C", str(material), "-c", "user.name=llm-course hub", "-c", "user.email=hub@llm-course.invalid"]
    if not (material / ".git").exists():
        subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    if subprocess.run([*git, "diff", "--cached", "--quiet"]).returncode != 0:
        subprocess.run([*git, "commit", "-q", "-m", f"course notebooks {time.strftime('%Y-%m-%d %H:%M')}"], check=True)
    prefix.gitconfig.parent.mkdir(parents=True, exist_ok=True)
    # The repository is root's; learners' git must trust it (git's safe.directory) to clone and pull it.
    prefix.gitconfig.write_text(f"[safe]\n\tdirectory = {material}\n\tdirectory = {material}/.git\n"
                                "[user]\n\tname = learner\n\temail = learner@llm-course.invalid\n")


def prepare_cache(prefix: Prefix) -> None:
    """The model cache, prepared once by root, then read-only for everyone."""
    env = dict(PATH="/usr/bin:/bin", HOME=str(prefix.state), LLM_COURSE_CACHE=str(prefix.cache),
               OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"), HF_HUB_OFFLINE="1", LANG="C.UTF-8")
    python = str(prefix.python(prefix.course))
    state = subprocess.run([python, "-c", "from llm_course import models; print(models.cache_state(), models.cache_dir())"],
                           env=env, capture_output=True, text=True, check=True).stdout.split()
    if state[0] != "ready":
        prefix.cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(["chmod", "-R", "u+w", str(prefix.cache)], check=True)
        mine = _instructor_cache(Path(state[1]).name)
        if mine is not None:  # already converted on this machine: copied, not converted again
            shutil.rmtree(state[1], ignore_errors=True)
            shutil.copytree(mine, state[1])
        print("== the model cache (converted once for the whole class)", flush=True)
        subprocess.run([python, "-m", "llm_course", "prepare"], env=env, check=True)
    subprocess.run(["chmod", "-R", "a+rX,a-w", str(prefix.cache)], check=True)


def _instructor_cache(name: str) -> Path | None:
    sys.path.insert(0, str(ROOT))
    try:
        from llm_course import models

        folder = models.cache_root() / name
        return folder if models.cache._cache_is_valid(folder) else None
    except Exception:  # noqa: BLE001 - no usable copy: convert instead
        return None


def install(prefix: Prefix, node: str, python: Path) -> None:
    prefix.root.chmod(0o755)
    prefix.state.mkdir(mode=0o700, exist_ok=True)
    check_state(prefix.state)
    prefix.state.chmod(0o700)
    copy_env(COURSE_VENV, prefix.course, python, f"{python} {course_stamp()}")
    code = tree_digest(ROOT / "llm_course", ROOT / "assets")
    marker = prefix.course / ".llm-course-package"
    if not marker.exists() or marker.read_text() != code:
        install_course_package(prefix)
        marker.write_text(code)
    hub_stamp = f"{python} {hashlib.sha256((ROOT / 'requirements-hub.txt').read_bytes()).hexdigest()[:16]}"
    copy_env(HUB_VENV, prefix.hub, python, hub_stamp)
    if not (prefix.proxy / "node_modules").exists() or not (prefix.proxy / ".stamp").exists():
        shutil.rmtree(prefix.proxy, ignore_errors=True)
        shutil.copytree(HERE / "node" / "node_modules", prefix.proxy / "node_modules", symlinks=True)
        (prefix.proxy / ".stamp").write_text("configurable-http-proxy@5.3.0")
    prefix.config.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "jupyterhub_config.py", prefix.config)
    shutil.copy(HERE / "auth.py", prefix.config.parent / "auth.py")
    prepare_material(prefix)
    for path in (prefix.course, prefix.hub, prefix.proxy, prefix.material):
        subprocess.run(["chmod", "-R", "a+rX,go-w", str(path)], check=True)


# --------------------------------------------------------------------------- learners


def make_password() -> str:
    return "-".join("".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(4)) for _ in range(3))


def hash_password(password: str) -> dict:
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, PBKDF2_ROUNDS)
    return {"salt": salt.hex(), "rounds": PBKDF2_ROUNDS, "hash": digest.hex()}


def write_private(path: Path, text: str) -> None:
    """``text`` into ``path`` (0600) at once: a reader (the hub, at a log-in) sees the old file or the new one."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.unlink(missing_ok=True)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def read_passwords(prefix: Prefix) -> tuple[dict, dict]:
    """(name -> hash entry, name -> password as printed) from the state folder."""
    hashes_path, plain_path = prefix.state / "passwords.json", prefix.state / "passwords.txt"
    hashes = json.loads(hashes_path.read_text()) if hashes_path.exists() else {}
    plain = dict(line.split("\t", 1) for line in plain_path.read_text().splitlines() if "\t" in line) \
        if plain_path.exists() else {}
    return hashes, plain


def write_passwords(prefix: Prefix, names: list[str], hashes: dict, plain: dict) -> None:
    write_private(prefix.state / "passwords.json", json.dumps({n: hashes[n] for n in names if n in hashes}, indent=1))
    write_private(prefix.state / "passwords.txt", "".join(f"{n}\t{plain[n]}\n" for n in names if n in plain))


def read_accounts(prefix: Prefix) -> dict[str, int]:
    try:
        return {str(k): int(v) for k, v in json.loads(prefix.accounts.read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def make_learners(prefix: Prefix, names: list[str], new_passwords: bool) -> dict[str, str]:
    """Accounts, homes 0700, a notebooks copy each; returns the passwords made now (name -> password)."""
    hashes, plain = read_passwords(prefix)
    accounts = read_accounts(prefix)
    made = {}
    for name in names:
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(["useradd", "--create-home", "--user-group", "--shell", "/bin/bash",
                            "--comment", TAG, "-K", "HOME_MODE=0700", name], check=True)
        entry = pwd.getpwnam(name)
        if accounts.get(name) != entry.pw_uid:  # recorded at once: --stop finds it even if a later step fails
            accounts[name] = entry.pw_uid
            write_private(prefix.accounts, json.dumps(accounts, indent=1))
        home = Path(entry.pw_dir)
        home.chmod(0o700)  # older useradd ignores HOME_MODE
        if not (home / "llm-course").exists():
            subprocess.run(["git", "clone", "-q", str(prefix.material), str(home / "llm-course")],
                           user=entry.pw_uid, group=entry.pw_gid, cwd=home, check=True,
                           env={"HOME": str(home), "PATH": "/usr/bin:/bin", "GIT_CONFIG_GLOBAL": str(prefix.gitconfig)})
        if new_passwords or name not in hashes:
            made[name] = make_password()
            hashes[name] = hash_password(made[name])
            plain[name] = made[name]
    write_passwords(prefix, names, hashes, plain)
    return made


def learner_accounts(prefix: Prefix) -> list:
    """The accounts of this prefix's learners, those dropped from the list since too.

    Found among all accounts by the tag in their comment field, and taken only if this prefix
    made them (its root-only record, or the current list for accounts made before the record
    existed): a local user who writes the tag into their own comment (chfn) is not one.
    """
    try:
        listed = set(json.loads(prefix.settings.read_text())["learners"])
    except (OSError, ValueError, KeyError, TypeError):
        listed = set()
    made = read_accounts(prefix)
    return [entry for entry in pwd.getpwall()
            if is_tagged(entry) and entry.pw_uid != 0
            and (made.get(entry.pw_name) == entry.pw_uid or entry.pw_name in listed)]


def reset_password(args) -> int:
    """A new password for one learner, also while the hub runs; printed for that learner only."""
    prefix = Prefix(Path(args.prefix).resolve())
    name = args.reset_password
    if os.geteuid() != 0:
        raise Stop("비밀번호를 바꾸려면 root여야 합니다: sudo ./course.sh hub --reset-password " + name,
                   "Resetting a password needs root: sudo ./course.sh hub --reset-password " + name)
    check_prefix(prefix.root)
    try:
        names = json.loads(prefix.settings.read_text())["learners"]
    except (OSError, ValueError, KeyError):
        raise Stop(f"{prefix.root}에 준비된 허브가 없습니다. 먼저 ./course.sh hub learners.txt 로 준비하세요.",
                   f"No hub is set up in {prefix.root}; set it up first with ./course.sh hub learners.txt") from None
    if name not in names:
        raise Stop(f"{name}은(는) 이 허브의 학습자 명단에 없습니다(명단: {', '.join(names)}).",
                   f"{name} is not on this hub's list of learners ({', '.join(names)}).")
    with start_lock(prefix):
        hashes, plain = read_passwords(prefix)
        plain[name] = make_password()
        hashes[name] = hash_password(plain[name])
        write_passwords(prefix, names, hashes, plain)
    say(f"{name}의 새 비밀번호입니다(바로 쓸 수 있습니다; 허브를 다시 띄울 필요 없음):",
        f"{name}'s new password (works at once, no restart needed):")
    print(f"   {name}\t{plain[name]}", flush=True)
    return 0


# --------------------------------------------------------------------------- start and stop


def start(args) -> int:
    prefix = Prefix(Path(args.prefix).resolve())
    if os.geteuid() != 0:
        raise Stop("수업용 허브는 root로 실행해야 합니다(학습자 계정을 만들고 그 계정으로 서버를 띄웁니다): sudo ./course.sh hub ...",
                   "The classroom hub must run as root (it makes learners' accounts and starts their servers as them): "
                   "sudo ./course.sh hub ...")
    if args.learners is None:
        raise Stop("학습자 명단 파일을 주세요: ./course.sh hub learners.txt (한 줄에 한 명)",
                   "Give the learners file: ./course.sh hub learners.txt (one name per line)")
    names = read_learners(Path(args.learners))
    check_accounts(names)
    if args.idle_timeout <= 0:
        raise Stop(f"--idle-timeout은 0보다 큰 초 단위 숫자여야 합니다(지금 {args.idle_timeout}). 예: --idle-timeout 3600",
                   f"--idle-timeout must be a number of seconds above 0 (it is {args.idle_timeout}); "
                   "for example --idle-timeout 3600")
    check_prefix(prefix.root)
    check_not_running(prefix)
    if not port_free(args.ip, args.port):
        raise Stop(f"{args.ip}:{args.port} 포트를 이미 다른 프로그램이 쓰고 있습니다. --port로 다른 포트를 고르세요.",
                   f"Port {args.port} on {args.ip} is already in use. Choose another with --port.")
    node = find_node(installed=not args.check)
    kernel_memory = parse_size(args.kernel_memory)
    if not shutil.which("git"):
        raise Stop("git이 없습니다(학습자별 노트북 사본과 nbgitpuller에 필요): sudo apt-get install git",
                   "git is missing (learners' copies of the notebooks and nbgitpuller use it): sudo apt-get install git")
    if args.check:  # course.sh asks this before installing anything (Python's standard library only)
        return 0
    python = reachable_python()  # the last check: it needs the course's .venv, which course.sh made by now

    prefix.root.mkdir(mode=0o755, parents=True, exist_ok=True)
    check_prefix(prefix.root)
    with start_lock(prefix):
        check_not_running(prefix)  # another start may have finished while this one waited for the lock
        install(prefix, node, python)
        settings = {
            "learners": names, "ip": args.ip, "port": args.port, "hub_port": free_port(),
            "proxy_api_port": free_port(), "node": node,
            "chp": str(prefix.proxy / "node_modules" / "configurable-http-proxy" / "bin" / "configurable-http-proxy"),
            "state": str(prefix.state), "hub_python": str(prefix.python(prefix.hub)),
            "idle_timeout": args.idle_timeout, "default_url": "/lab/tree/llm-course/notebooks/ko",
            "learner_env": {
                "PATH": f"{prefix.hub / 'bin'}:/usr/local/bin:/usr/bin:/bin",
                "GIT_CONFIG_GLOBAL": str(prefix.gitconfig),
                "LLM_COURSE_CACHE": str(prefix.cache),
                "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                "JUPYTER_PREFER_ENV_PATH": "1",
            },
            "kernel_env": {"LLM_COURSE_CACHE": str(prefix.cache), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                           "LLM_COURSE_KERNEL_MEMORY": str(kernel_memory)},
        }
        write_kernel(prefix, settings)
        prepare_cache(prefix)
        made = make_learners(prefix, names, args.new_passwords)
        write_private(prefix.settings, json.dumps(settings, indent=1))
        token = prefix.state / "admin-token"
        if not token.exists():
            write_private(token, secrets.token_hex(32))
        return launch(prefix, settings, made, args)


def check_not_running(prefix: Prefix) -> None:
    pid = running_pid(prefix)
    if pid:
        raise Stop(f"이 허브는 이미 실행 중입니다(pid {pid}, {prefix.root}). 멈추려면: ./course.sh hub --stop",
                   f"This hub is already running (pid {pid}, {prefix.root}). To stop it: ./course.sh hub --stop")


def hub_answers(url: str) -> bool:
    """Whether the hub's API answers 200 at ``url``, asked directly: no proxy of the environment is used."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=5) as answer:
            return answer.status == 200
    except OSError:
        return False


def end_process_group(pid: int, timeout: float = 10) -> None:
    """SIGTERM to the process group ``pid`` leads, SIGKILL to what is left after ``timeout`` seconds."""
    import psutil

    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        psutil.Process(pid).wait(timeout=timeout)
    except psutil.TimeoutExpired:
        pass
    except psutil.NoSuchProcess:
        pass
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def launch(prefix: Prefix, settings: dict, made: dict[str, str], args) -> int:
    # A clean environment: nothing of root's (tokens, proxies, paths) reaches the hub or the learners.
    env = {"PATH": f"{prefix.hub / 'bin'}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "LANG": os.environ.get("LANG", "C.UTF-8"), "HOME": str(prefix.state),
           "LLM_COURSE_HUB_SETTINGS": str(prefix.settings),
           "JUPYTER_CONFIG_DIR": str(prefix.state / "jupyter"), "JUPYTER_RUNTIME_DIR": str(prefix.state / "runtime")}
    with open(prefix.log, "ab") as log:
        proc = subprocess.Popen([settings["hub_python"], "-m", "jupyterhub", "-f", str(prefix.config)],
                                cwd=prefix.state, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    import psutil

    prefix.pid.write_text(f"{proc.pid} {psutil.Process(proc.pid).create_time()}")
    url = f"http://{args.ip if ':' not in args.ip else '[' + args.ip + ']'}:{args.port}"
    probe = f"http://127.0.0.1:{args.port}/hub/api/" if args.ip in ("0.0.0.0", "127.0.0.1") else f"{url}/hub/api/"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            end_process_group(proc.pid, timeout=5)  # the proxy it may have started
            prefix.pid.unlink(missing_ok=True)
            tail = prefix.log.read_text(errors="replace").splitlines()[-30:]
            raise Stop("JupyterHub이 시작하자마자 멈췄습니다. 로그: " + str(prefix.log),
                       "JupyterHub exited as it started. Its log, " + str(prefix.log) + ":\n" + "\n".join(tail))
        if hub_answers(probe):
            break
        time.sleep(0.5)
    else:
        end_process_group(proc.pid)  # nothing of a hub that never answered stays behind
        proc.wait()
        prefix.pid.unlink(missing_ok=True)
        raise Stop(f"JupyterHub이 {START_TIMEOUT_S}초 안에 응답하지 않아 멈췄습니다. 로그: {prefix.log}",
                   f"JupyterHub did not answer within {START_TIMEOUT_S} s and was stopped; see {prefix.log}")
    say(f"== 수업용 허브가 {url} 에서 실행 중입니다(학습자 {len(settings['learners'])}명).",
        f"== The class hub runs at {url} ({len(settings['learners'])} learners).")
    if made:
        say("새로 만든 비밀번호(한 번만 보여 줍니다; root만 읽을 수 있는 " + str(prefix.state / "passwords.txt") + "에도 있습니다):",
            "New passwords (shown once; also in the root-only " + str(prefix.state / "passwords.txt") + "):")
        for name, password in made.items():
            print(f"   {name}\t{password}")
    if args.ip in ("127.0.0.1", "::1", "localhost"):
        say("이 주소는 이 서버 안에서만 열립니다. 교실에 열려면 TLS(HTTPS)를 붙인 리버스 프록시(nginx, Caddy)를 앞에 두고 "
            f"{url} 로 넘기세요(웹소켓 업그레이드 헤더 포함). 믿을 수 있는 교실 LAN에서만 --ip 0.0.0.0 을 쓰세요.",
            "This address is reachable from this server only. To open it to the class, put a reverse proxy with TLS "
            f"(nginx, Caddy) in front that forwards to {url} (with the WebSocket upgrade headers); use --ip 0.0.0.0 only "
            "on a classroom LAN you trust: passwords would otherwise cross it in clear text.")
    say(f"멈추기: ./course.sh hub --stop{_prefix_arg(args)}", f"To stop it: ./course.sh hub --stop{_prefix_arg(args)}")
    return 0


def _prefix_arg(args) -> str:
    return "" if Path(args.prefix).resolve() == Path("/opt/llm-course") else f" --prefix {args.prefix}"


def stop(args) -> int:
    prefix = Prefix(Path(args.prefix).resolve())
    if os.geteuid() != 0:
        raise Stop("허브를 멈추려면 root여야 합니다: sudo ./course.sh hub --stop",
                   "Stopping the hub needs root: sudo ./course.sh hub --stop")
    check_prefix(prefix.root)
    if not prefix.root.is_dir():
        raise Stop(f"{prefix.root}에 허브가 없습니다. --prefix를 확인하세요.",
                   f"There is no hub in {prefix.root}; check --prefix.")
    with start_lock(prefix):
        return _stop(prefix, args)


def _stop(prefix: Prefix, args) -> int:
    import psutil

    pid = running_pid(prefix)
    settings = json.loads(prefix.settings.read_text()) if prefix.settings.exists() else {}
    if pid:
        end_process_group(pid, timeout=20)  # JupyterHub stops the learners' servers and its proxy
    else:
        say(f"{prefix.root}의 허브는 실행 중이 아닙니다. 남은 프로세스만 정리합니다.",
            f"The hub of {prefix.root} is not running; cleaning up whatever it left.")
    # Whatever is left: the proxy, the idle culler, and every process of a learner's account.
    left = []
    proxy_pid = prefix.state / "proxy.pid"
    accounts = learner_accounts(prefix)
    uids = {entry.pw_uid for entry in accounts}
    for proc in psutil.process_iter(["pid", "uids", "cmdline"]):
        try:
            words = proc.info["cmdline"] or []
            # The prefix's programs (the hub, the culler, the proxy), not, say, a `tail -f` of its log.
            ours = bool(words) and (words[0].startswith(str(prefix.root) + "/")
                                    or any(w.startswith(str(prefix.proxy) + "/") for w in words))
            if proc.info["uids"].real in uids or (ours and proc.pid != os.getpid()):
                left.append(proc)
        except (psutil.Error, TypeError, AttributeError):
            continue
    for proc in left:
        try:
            proc.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(left, timeout=10)
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=10)
    for path in (prefix.pid, proxy_pid, prefix.state / "jupyterhub.pid"):
        path.unlink(missing_ok=True)
    busy = []
    for port in (settings.get("port"), settings.get("hub_port"), settings.get("proxy_api_port")):
        if port and not _wait_port_free(settings.get("ip", "127.0.0.1") if port == settings.get("port") else "127.0.0.1",
                                        port):
            busy.append(port)
    if busy:
        say(f"허브는 멈췄지만 포트 {busy}를 아직 무언가가 쓰고 있습니다: ss -ltnp 로 확인하세요.",
            f"The hub stopped, but ports {busy} are still in use: check with ss -ltnp.")
    else:
        say("허브와 학습자 서버·커널을 모두 멈췄습니다.", "The hub, the learners' servers and their kernels are stopped.")
    removed = remove_learners(prefix, accounts) if args.remove_learners else True
    return 0 if removed and not busy else 1


def _wait_port_free(ip: str, port: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_free(ip, port):
            return True
        time.sleep(0.3)
    return False


def remove_learners(prefix: Prefix, accounts: list) -> bool:
    """Delete the learner accounts this prefix made (``learner_accounts``), with their homes (their work too)."""
    record = read_accounts(prefix)
    failed = []
    for entry in accounts:
        done = subprocess.run(["userdel", "--remove", entry.pw_name], capture_output=True, text=True)
        # 12: the home could not be removed entirely (userdel says why); the account is gone.
        if done.returncode not in (0, 12):
            failed.append(f"{entry.pw_name} (userdel {done.returncode}: {done.stderr.strip()})")
            continue
        if done.returncode == 12:
            failed.append(f"{entry.pw_name}: {done.stderr.strip()}")
        record.pop(entry.pw_name, None)
    if prefix.state.is_dir():
        write_private(prefix.accounts, json.dumps(record, indent=1))
    for path in (prefix.state / "passwords.json", prefix.state / "passwords.txt"):
        path.unlink(missing_ok=True)
    gone = len(accounts) - sum(1 for f in failed if "(userdel" in f)
    say(f"학습자 계정 {gone}개와 그 홈 폴더를 지웠습니다.", f"Removed {gone} learner accounts and their homes.")
    if failed:
        say("지우지 못한 것이 있습니다(아래; 확인한 뒤 sudo userdel --remove 이름):\n   " + "\n   ".join(failed),
            "Some could not be removed (below; check, then sudo userdel --remove NAME):\n   " + "\n   ".join(failed))
    return not failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./course.sh hub", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("learners", nargs="?", help="a file with one learner's user name per line")
    parser.add_argument("--stop", action="store_true", help="stop the hub and everything it started")
    parser.add_argument("--remove-learners", action="store_true",
                        help="with --stop: also delete the learners' accounts and homes (their work too)")
    parser.add_argument("--ip", default="127.0.0.1", help="the address learners open (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--prefix", default="/opt/llm-course", help="where everything is installed")
    parser.add_argument("--idle-timeout", type=int, default=3600, help="seconds before an idle server is stopped")
    parser.add_argument("--reset-password", metavar="NAME",
                        help="a new password for one learner, printed once (also while the hub runs)")
    parser.add_argument("--kernel-memory", default=DEFAULT_KERNEL_MEMORY,
                        help="each kernel's cap on private memory, e.g. 4G (0: none)")
    parser.add_argument("--new-passwords", action="store_true", help="make new passwords for every learner")
    parser.add_argument("--check", action="store_true", help=argparse.SUPPRESS)  # validate only (course.sh)
    args = parser.parse_args(argv)
    try:
        if args.reset_password:
            return reset_password(args)
        return stop(args) if args.stop else start(args)
    except Stop as message:
        print(message, file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as err:
        print(f"course.sh hub: 실패한 명령 / a command failed: {' '.join(map(str, err.cmd))} (exit {err.returncode})",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
