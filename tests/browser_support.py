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

import importlib
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
    """The Chromium to drive: ``$LLM_COURSE_CHROMIUM``, else ``chromium`` (Debian) or ``chromium-browser`` on PATH.

    Elsewhere (macOS, a Chrome install) point ``LLM_COURSE_CHROMIUM`` at the browser's executable.
    """
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
        importlib.import_module("playwright.sync_api")
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
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
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
        """Call the server's REST API. A 5xx is tried again: jupyter_server 2.21 answers GET
        /api/kernels with 500 while a kernel is halfway shut down ('last_activity' is None)."""
        request = urllib.request.Request(self.base + path, method=method,
                                         headers={"Authorization": f"token {self.token}"})
        for attempt in range(6):
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    body = response.read()
                return json.loads(body) if body else None
            except urllib.error.HTTPError as err:
                if err.code < 500 or attempt == 5:
                    raise
                time.sleep(0.5)

    def shutdown_kernel(self, kernel_id: str) -> None:
        try:
            self.api("DELETE", f"/api/kernels/{kernel_id}", timeout=30)
        except urllib.error.HTTPError as err:
            if err.code != 404:  # already gone
                raise

    def url(self, notebook: str) -> str:
        # ?reset: an empty workspace, so the page shows this notebook and nothing from an earlier page.
        return f"{self.base}/lab/tree/{notebook}?token={self.token}&reset"

    def shutdown_kernels(self) -> None:
        for kernel in self.api("GET", "/api/kernels"):
            self.shutdown_kernel(kernel["id"])

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
# Page helpers: one JupyterLab page, one tab (a notebook panel) per notebook
# --------------------------------------------------------------------------
# A panel is named by a CSS selector for its notebook panel ("#id-..."): every
# helper reads that notebook's cells, also while another tab is in front.


def _menu(page, menu: str, item: str) -> None:
    """Click ``menu`` in the menu bar, then the item labelled ``item``, as a learner would."""
    page.locator(".lm-MenuBar-item", has=page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{menu}$"))).click()
    page.locator(".lm-Menu-item", has=page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$"))).click()


def open_notebook(page, lab: LabServer, name: str, timeout_s: float = 90) -> str:
    """Open ``name`` (the first time by its URL, later from the file browser) and wait for its idle kernel.

    Returns the panel's selector.
    """
    if page.url.startswith(lab.base):
        page.locator(".jp-DirListing-item", has=page.locator(".jp-DirListing-itemText",
                                                            has_text=re.compile(f"^{re.escape(name)}$"))).dblclick()
    else:
        page.goto(lab.url(name), timeout=timeout_s * 1000)
    # The tab in front that carries the name names the notebook's panel.
    tab = page.locator(".lm-TabBar-tab.jp-mod-current",
                       has=page.locator(".lm-TabBar-tabLabel", has_text=re.compile(f"^{re.escape(name)}$")))
    tab.wait_for(state="attached", timeout=timeout_s * 1000)
    panel_id = tab.get_attribute("data-id")
    panel = f"#{panel_id}"
    page.wait_for_selector(f"{panel} .jp-Cell", state="attached", timeout=timeout_s * 1000)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        # The page shows "idle" before it has a kernel at all: ask the server too.
        kernels = [s["kernel"] for s in lab.api("GET", "/api/sessions") if s["path"] == name and s.get("kernel")]
        if (any(k["connections"] > 0 and k["execution_state"] == "idle" for k in kernels)
                and (page.get_attribute(f"{panel} .jp-Toolbar-kernelName", "aria-label") or "No Kernel") != "No Kernel"
                and page.get_attribute(f"{panel} .jp-Notebook-ExecutionIndicator", "data-status") == "idle"):
            return panel
        time.sleep(0.3)
    raise AssertionError(f"the kernel of {name} did not start within {timeout_s:.0f} s:\n{lab.log_tail()}")


def show(page, panel: str) -> None:
    """Bring the notebook's tab to the front."""
    page.locator(f".lm-TabBar-tab[data-id='{panel[1:]}']").click()
    page.wait_for_selector(f"{panel}:not(.lm-mod-hidden)")


class NotebookRuns:
    """The notebooks in one JupyterLab page, ``parallel`` of them running at a time, started in ``order``.

    :meth:`take` gives a notebook's panel once all its cells ran (opening it
    and running it if it has not started yet); meanwhile, whenever fewer than
    ``parallel`` notebooks are still running cells, the next one is opened and
    run. :meth:`release` shuts its kernel down. So the short notebooks run
    while the long one still runs, and while a test uses one notebook's widgets.
    One page, as a learner has it: JupyterLab starts once (about 8 s of
    Chromium's time here), not once per notebook.
    """

    def __init__(self, lab: LabServer, browser, order: list[str], parallel: int, run_timeout_s: float):
        self.lab, self.order, self.parallel, self.run_timeout_s = lab, list(order), parallel, run_timeout_s
        self.page = browser.new_page()
        self.page_errors: list[str] = []
        self.page.on("pageerror", lambda err: self.page_errors.append(str(err)))
        self.started: dict[str, tuple[str, float]] = {}  # name -> (panel, when it was opened)
        self.finished: set[str] = set()

    def _start(self, name: str) -> None:
        opened = time.monotonic()
        panel = open_notebook(self.page, self.lab, name)
        self.started[name] = (panel, opened)
        run_all_cells(self.page)  # the notebook just opened is in front

    def _running(self, name: str) -> bool:
        """Whether the notebook's kernel still has cells to run (busy, or cells queued)."""
        panel = self.started[name][0]
        busy = self.page.get_attribute(f"{panel} .jp-Notebook-ExecutionIndicator", "data-status") != "idle"
        return busy or "[*]:" in cell_prompts(self.page, panel)

    def _fill(self) -> None:
        """Start the next notebooks while fewer than ``parallel`` are still running cells."""
        running = [n for n in self.started if n not in self.finished and self._running(n)]
        for name in self.order:
            if len(running) >= self.parallel:
                return
            if name not in self.started:
                self._start(name)
                running.append(name)

    def panel(self, name: str) -> str:
        return self.started[name][0]

    def take(self, name: str) -> tuple[str, float]:
        """(panel, seconds from opening to the last cell's end) for ``name``, in front."""
        if name not in self.started:
            self._start(name)
        panel, opened = self.started[name]
        deadline = opened + self.run_timeout_s
        # While it runs, a notebook that finished its cells makes room for the next one.
        while self._running(name) and time.monotonic() < deadline:
            self._fill()
            time.sleep(1)
        self._fill()
        show(self.page, panel)
        wait_all_cells_done(self.page, panel, max(1.0, deadline - time.monotonic()))
        return panel, time.monotonic() - opened

    def release(self, name: str) -> None:
        """Shut down the notebook's kernel (its tab stays, idle), then start the next notebook."""
        self.finished.add(name)
        for session in self.lab.api("GET", "/api/sessions"):
            if session["path"] == name and session.get("kernel"):
                self.lab.shutdown_kernel(session["kernel"]["id"])
        self._fill()

    def close(self) -> None:
        self.page.close()


def run_all_cells(page) -> None:
    """Run ▸ Run All Cells on the notebook in front."""
    _menu(page, "Run", "Run All Cells")


def cell_prompts(page, panel: str) -> list[str]:
    """The input prompt of every code cell: '[3]:' when it ran, '[*]:' while queued or running, '[ ]:' never run."""
    return page.eval_on_selector_all(f"{panel} .jp-CodeCell .jp-InputArea-prompt",
                                     "nodes => nodes.map(n => n.textContent.trim())")


def _count(prompt: str) -> int | None:
    inner = prompt.strip().removesuffix(":").strip("[] ")
    return int(inner) if inner.isdigit() else None


def wait_all_cells_done(page, panel: str, timeout_s: float) -> float:
    """Wait until every code cell shows an execution count and the kernel is idle; the seconds it took.

    The notebook was copied without execution counts (:func:`copy_without_outputs`)
    and runs in a fresh kernel, so when all cells ran once, in order, the prompts
    read [1], [2], ... [N]; anything else (a cell left out after an error, a cell
    still queued) fails with the cells that are not done.
    """
    start = time.monotonic()
    deadline = start + timeout_s
    prompts: list[str] = []
    stopped_since = None
    while time.monotonic() < deadline:
        prompts = cell_prompts(page, panel)
        idle = page.get_attribute(f"{panel} .jp-Notebook-ExecutionIndicator", "data-status") == "idle"
        if prompts and [_count(p) for p in prompts] == list(range(1, len(prompts) + 1)) and idle:
            return time.monotonic() - start
        # Idle with nothing queued but not all done: the run stopped (JupyterLab stops at an error).
        if idle and "[*]:" not in prompts:
            stopped_since = stopped_since or time.monotonic()
            if time.monotonic() - stopped_since > 5:
                break
        else:
            stopped_since = None
        time.sleep(1)
    pending = [f"cell {n + 1} {p}" for n, p in enumerate(prompts) if _count(p) != n + 1]
    how = "the run stopped" if stopped_since else f"not within {timeout_s:.0f} s"
    raise AssertionError(f"not every code cell ran once, in order ({how}; {len(pending)} of {len(prompts)} not): "
                         + ", ".join(pending[:8]))


def save_notebook(page, lab: LabServer, name: str, timeout_s: float = 30) -> dict:
    """File ▸ Save Notebook on the notebook in front, then the notebook as JupyterLab wrote it (the temporary copy).

    The page draws an error output and a warning alike (both as
    ``application/vnd.jupyter.stderr``); the saved file says which is which.
    """
    path = lab.root / name
    before = path.stat().st_mtime_ns
    page.locator(".lm-MenuBar-item", has=page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^File$"))).click()
    page.locator(".lm-Menu-item[data-command='docmanager:save']").click()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.stat().st_mtime_ns != before:
            try:
                return json.loads(path.read_text(encoding="utf-8"))
            except ValueError:  # still being written
                pass
        time.sleep(0.3)
    raise AssertionError(f"JupyterLab did not save {name} within {timeout_s:.0f} s")


def error_outputs(notebook: dict) -> list[str]:
    """Every error output of a saved notebook, as 'code cell N: Name: message'."""
    code_cells = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    return [f"code cell {n + 1}: {output['ename']}: {output['evalue']}"
            for n, cell in enumerate(code_cells) for output in cell.get("outputs", [])
            if output["output_type"] == "error"]


def widget_cells(page, panel: str):
    """The code cells whose output holds a live widget view."""
    return page.locator(f"{panel} .jp-CodeCell").filter(has=page.locator(".jp-OutputArea-output .jupyter-widgets"))


def image_digest(locator) -> str:
    """SHA-256 of the bytes an <img> shows (a widgets.Image's blob URL), read in the page."""
    return locator.evaluate("""async img => {
        const bytes = await (await fetch(img.src)).arrayBuffer();
        const digest = await crypto.subtle.digest('SHA-256', bytes);
        return Array.from(new Uint8Array(digest)).map(b => b.toString(16).padStart(2, '0')).join('');
    }""")
