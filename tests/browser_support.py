"""What the browser test (tests/test_browser.py) needs: JupyterLab on a copy, Chromium, page helpers.

The test drives the course as a learner does: JupyterLab in Chromium, driven
by Playwright. Chromium comes from the operating system's packages (Debian:
``chromium``, with ``fonts-noto-cjk`` for Hangul in the page); Python
Playwright (``requirements-browser.txt``) brings its own driver and downloads
no browser, so all of this works offline.

- :func:`missing_requirements` says what is not installed, as install commands.
- :class:`LabServer` runs JupyterLab on a temporary copy of the notebooks
  (JupyterLab autosaves; the repository's notebooks are never opened), with its
  own settings, workspaces and runtime folders, and shuts it and its kernels
  down whatever happens.
- :func:`launch_chromium` starts headless Chromium with a fresh profile and no
  background connections (on a closed network those are refused and slow
  Chromium down).
- The ``page`` helpers open a notebook, run all its cells from the Run menu,
  wait for every cell to finish and find the widget cells.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

INSTALL_CHROMIUM = "sudo apt-get install chromium fonts-noto-cjk"
INSTALL_PLAYWRIGHT = "pip install -r requirements-browser.txt"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Settings for the test's own JupyterLab: every cell is drawn (with the default windowing,
# "contentVisibility", cells out of view have no innerText, and drawing them all costs
# Chromium only a few seconds here), and nothing asks the network or pops up over the notebook.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
    "@jupyterlab/extensionmanager-extension/plugin.jupyterlab-settings": {"enabled": False},
}


def find_chromium() -> str | None:
    """The Chromium to drive: ``$LLM_COURSE_CHROMIUM``, else ``chromium`` (Debian) or ``chromium-browser`` on PATH."""
    chosen = os.environ.get("LLM_COURSE_CHROMIUM")
    if chosen:
        return chosen if Path(chosen).is_file() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def hangul_font_installed() -> bool | None:
    """Whether fontconfig knows a font with Hangul (None where there is no ``fc-list`` to ask, as on macOS)."""
    if shutil.which("fc-list") is None:
        return None
    listing = subprocess.run(["fc-list", ":lang=ko", "family"], capture_output=True, text=True).stdout
    return bool(listing.strip())


def missing_requirements() -> list[str]:
    """What the browser test needs and does not find, one line each with the command that installs it."""
    missing = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append(f"Python Playwright is not installed in {sys.prefix}: {INSTALL_PLAYWRIGHT}")
    if find_chromium() is None:
        where = os.environ.get("LLM_COURSE_CHROMIUM")
        missing.append(f"no Chromium found ({'LLM_COURSE_CHROMIUM=' + where if where else 'chromium on PATH'}): "
                       f"{INSTALL_CHROMIUM}")
    if hangul_font_installed() is False:
        missing.append(f"no font with Hangul (Korean would show as boxes): {INSTALL_CHROMIUM}")
    return missing


def copy_without_outputs(source: Path, target: Path) -> None:
    """Copy a notebook with its outputs and execution counts removed, so every prompt the test sees comes from its own run."""
    notebook = json.loads(source.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    notebook["metadata"].pop("widgets", None)
    target.write_text(json.dumps(notebook, ensure_ascii=False, indent=1), encoding="utf-8")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LabServer:
    """JupyterLab serving ``root`` (a temporary folder) on a free port, with a random token.

    Its kernels get ``kernel_env`` on top of this process's environment.
    Use as a context manager; :meth:`stop` shuts down the kernels through the
    server, then the server, then kills whatever of them is left.
    """

    def __init__(self, root: Path, home: Path, kernel_env: dict[str, str]):
        self.root, self.home = root, home
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = home / "jupyterlab.log"
        self.kernel_env = kernel_env
        self.process: subprocess.Popen | None = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self, timeout: float = 90) -> None:
        settings = self.home / "lab-settings"
        for name, values in LAB_SETTINGS.items():
            path = settings / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        env = dict(os.environ, **self.kernel_env,
                   JUPYTERLAB_SETTINGS_DIR=str(settings),
                   JUPYTERLAB_WORKSPACES_DIR=str(self.home / "lab-workspaces"),
                   JUPYTER_CONFIG_DIR=str(self.home / "jupyter-config"),  # no user's jupyter_server_config
                   JUPYTER_RUNTIME_DIR=str(self.home / "jupyter-runtime"))
        command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={self.port}",
                   "--ServerApp.ip=127.0.0.1", "--ServerApp.port_retries=0",
                   f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
                   "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                   # No language servers to look for, no terminals: less to start, nothing the test uses.
                   "--ServerApp.jpserver_extensions={'jupyter_lsp': False, 'jupyter_server_terminals': False}"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")
        log = open(self.log_path, "w")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        env=env, cwd=self.root, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                self.api("GET", "/api/status")
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.5)
        raise RuntimeError(f"JupyterLab did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def api(self, method: str, path: str, timeout: float = 10):
        request = urllib.request.Request(self.base + path, method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def url(self, notebook: str) -> str:
        # A workspace per notebook, reset: each page shows its own notebook and nothing else.
        workspace = re.sub(r"[^A-Za-z0-9]+", "-", notebook)
        return f"{self.base}/lab/workspaces/{workspace}/tree/{notebook}?token={self.token}&reset"

    def shutdown_kernels(self) -> None:
        for kernel in self.api("GET", "/api/kernels"):
            self.api("DELETE", f"/api/kernels/{kernel['id']}", timeout=20)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        import psutil

        try:  # kernels run in sessions of their own: note them before the server goes
            left = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.Error:
            left = []
        try:
            self.shutdown_kernels()
        except (OSError, urllib.error.URLError, ValueError):
            pass
        self.process.terminate()  # the server shuts down what it still runs
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        for child in left:
            try:
                child.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(left, timeout=10)


def launch_chromium(playwright, profile: Path):
    """A headless Chromium context with a fresh profile in ``profile``, from the system's Chromium."""
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=find_chromium(), headless=True, args=CHROMIUM_ARGS,
        viewport={"width": 1280, "height": 900}, locale="ko-KR")


# --------------------------------------------------------------------------
# Page helpers (a JupyterLab 4 notebook tab)
# --------------------------------------------------------------------------

NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook"


INDICATOR = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator"
KERNEL_NAME = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Toolbar-kernelName"


def open_notebook(page, lab: LabServer, name: str, timeout_s: float = 90) -> None:
    """Open ``name`` in ``page`` and wait until its kernel runs, is connected to the page and is idle."""
    page.goto(lab.url(name), timeout=timeout_s * 1000)
    page.wait_for_selector(f"{NOTEBOOK} .jp-Cell", timeout=timeout_s * 1000)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        # The page shows "idle" before it has a kernel at all: ask the server too.
        kernels = [s["kernel"] for s in lab.api("GET", "/api/sessions") if s["path"] == name and s.get("kernel")]
        if (any(k["connections"] > 0 and k["execution_state"] == "idle" for k in kernels)
                and (page.get_attribute(KERNEL_NAME, "aria-label") or "No Kernel") != "No Kernel"
                and page.get_attribute(INDICATOR, "data-status") == "idle"):
            return
        time.sleep(0.3)
    raise AssertionError(f"the kernel of {name} did not start within {timeout_s:.0f} s:\n{lab.log_tail()}")


class NotebookRuns:
    """Runs the notebooks ``parallel`` at a time, each in a page of its own, started in ``order``.

    :meth:`take` gives a notebook's page once all its cells ran (starting it,
    and the next ones, if they have not started yet); :meth:`release` closes the
    page and shuts its kernel down, which lets the next notebook start. So while
    a test uses one notebook's widgets, the next notebook already runs.
    """

    def __init__(self, lab: LabServer, browser, order: list[str], parallel: int, run_timeout_s: float):
        self.lab, self.browser, self.order, self.parallel = lab, browser, list(order), parallel
        self.run_timeout_s = run_timeout_s
        self.started: dict[str, tuple] = {}  # name -> (page, page errors, start time)
        self.finished: set[str] = set()

    def _start(self, name: str) -> None:
        page = self.browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda err: errors.append(str(err)))
        self.started[name] = (page, errors, time.monotonic())
        open_notebook(page, self.lab, name)
        run_all_cells(page)

    def _fill(self) -> None:
        for name in self.order:
            if len([n for n in self.started if n not in self.finished]) >= self.parallel:
                return
            if name not in self.started:
                self._start(name)

    def take(self, name: str):
        """(page, JavaScript errors so far, seconds from opening to the last cell's end) for ``name``."""
        if name not in self.started:
            self._start(name)
        self._fill()
        page, errors, start = self.started[name]
        page.bring_to_front()
        wait_all_cells_done(page, max(1.0, start + self.run_timeout_s - time.monotonic()))
        return page, errors, time.monotonic() - start

    def release(self, name: str) -> None:
        page, _errors, _start = self.started[name]
        self.finished.add(name)
        try:
            page.close()
        finally:
            for session in self.lab.api("GET", "/api/sessions"):
                if session["path"] == name and session.get("kernel"):
                    self.lab.api("DELETE", f"/api/kernels/{session['kernel']['id']}", timeout=20)
            self._fill()

    def close(self) -> None:
        for name, (page, _errors, _start) in self.started.items():
            if name not in self.finished and not page.is_closed():
                page.close()


def run_all_cells(page) -> None:
    """Run ▸ Run All Cells, from the menu bar as a learner would."""
    page.locator(".lm-MenuBar-item", has=page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^Run$"))).click()
    page.locator(".lm-Menu-item", has=page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Run All Cells$"))).click()


def cell_prompts(page) -> list[str]:
    """The input prompt of every code cell: '[3]:' when it ran, '[*]:' while queued or running, '[ ]:' never run."""
    return page.eval_on_selector_all(f"{NOTEBOOK} .jp-CodeCell .jp-InputArea-prompt",
                                     "nodes => nodes.map(n => n.textContent.trim())")


def _count(prompt: str) -> int | None:
    inner = prompt.strip().removesuffix(":").strip("[] ")
    return int(inner) if inner.isdigit() else None


def wait_all_cells_done(page, timeout_s: float) -> float:
    """Wait until every code cell shows an execution count and the kernel is idle; the seconds it took.

    The notebook was copied without execution counts (:func:`copy_without_outputs`)
    and runs in a fresh kernel, so when all cells ran once, in order, the prompts
    read [1], [2], ... [N]; anything else (a cell left out after an error, a cell
    still queued) fails with the cells that are not done.
    """
    start = time.monotonic()
    deadline = start + timeout_s
    prompts: list[str] = []
    while time.monotonic() < deadline:
        prompts = cell_prompts(page)
        if (prompts and [_count(p) for p in prompts] == list(range(1, len(prompts) + 1))
                and page.get_attribute(INDICATOR, "data-status") == "idle"):
            return time.monotonic() - start
        time.sleep(1)
    pending = [f"cell {n + 1} {p}" for n, p in enumerate(prompts) if _count(p) != n + 1]
    raise AssertionError(f"not every code cell ran once, in order, within {timeout_s:.0f} s "
                         f"({len(pending)} of {len(prompts)} not): " + ", ".join(pending[:8]))


def error_outputs(page) -> list[str]:
    """The text of every error output (a traceback) in the notebook."""
    return page.eval_on_selector_all(
        f"{NOTEBOOK} .jp-OutputArea-output[data-mime-type='application/vnd.jupyter.error']",
        "nodes => nodes.map(n => n.textContent.slice(0, 2000))")  # textContent: also for cells out of view


def widget_cells(page):
    """The code cells whose output holds a live widget view."""
    return page.locator(f"{NOTEBOOK} .jp-CodeCell").filter(has=page.locator(".jp-OutputArea-output .jupyter-widgets"))


def image_digest(locator) -> str:
    """SHA-256 of the bytes an <img> shows (a widgets.Image's blob URL), read in the page."""
    return locator.evaluate("""async img => {
        const bytes = await (await fetch(img.src)).arrayBuffer();
        const digest = await crypto.subtle.digest('SHA-256', bytes);
        return Array.from(new Uint8Array(digest)).map(b => b.toString(16).padStart(2, '0')).join('');
    }""")
