"""The widget notebooks in a real browser: JupyterLab in Chromium, driven by Playwright, as a learner uses them.

For each Korean widget notebook (05, 07, 01, 03: longest first) the test opens a copy in
JupyterLab, runs Run ▸ Run All Cells, waits until every cell ran once in order
and the kernel is idle, and checks that no cell shows an error. Then it uses
every control of the notebook's widget, as a learner would (types and presses
Enter, moves sliders with the keyboard, picks another dropdown value, clicks the
buttons), and checks that what the widget shows changed accordingly. It checks
too that the bilingual "run this cell" line (``widgets.RUN_TO_SHOW``) stands
above the widget and that no widget shows "Error displaying widget". One
screenshot per notebook goes into the test's temporary folder (its path is
printed: ``pytest -rP`` shows it).

The notebooks run in one JupyterLab page, one tab each, two of them running
cells at a time (one per core): the short ones run while 05 still does, and
while a test uses the widgets of another. On the 2-core reference machine the
test took 2 min 52 s to 3 min 22 s (the first run after a fresh install is the
slow one), about 225 CPU-seconds, most of them the notebooks' own cells.

It is opt-in on a learner's machine: ``LLM_COURSE_BROWSER_TESTS=1 ./course.sh test``
(``CI`` set turns it on too). Enabled, a missing Chromium or Playwright is a
failure that names what to install (see ``tests/browser_support.py``).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest

import browser_support as support

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks" / "ko"
# Longest first (the tests below follow this order too): 05 and 07 run together from the
# start, and 01 and 03, short ones, take their places while their widgets are tested.
WIDGET_NOTEBOOKS = ["05_generation.ipynb", "07_chat_templates.ipynb", "01_tokenization.ipynb", "03_attention.ipynb"]
RUN_ALL_TIMEOUT_S = 300  # opening and running one took 40-200 s here (two at a time, load average 3-4)
WIDGET_TIMEOUT_S = 90  # a widget's answer: at most one generation of 60 tokens
PARALLEL = 2  # notebooks running at once: one per core of the 2-core reference laptop


def browser_tests_enabled() -> bool:
    return os.environ.get("LLM_COURSE_BROWSER_TESTS") == "1" or bool(os.environ.get("CI"))


def test_every_widget_notebook_is_in_the_browser_test():
    """Runs everywhere (no browser needed): a notebook that builds one of the course's widgets is tested below."""
    import inspect
    import json

    from llm_course import widgets

    builders = {name for name, function in inspect.getmembers(widgets, inspect.isfunction)
                if "return with_run_hint(" in inspect.getsource(function)}
    assert builders >= {"token_playground", "attention_explorer", "generation_playground", "chat_widget"}
    calls = re.compile(r"\bwidgets\.(\w+)\(")
    with_widgets = set()
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
        if any(set(calls.findall(source)) & builders or "ipywidgets" in source for source in sources):
            with_widgets.add(path.name)
    assert with_widgets == set(WIDGET_NOTEBOOKS), \
        f"notebooks with widgets {sorted(with_widgets)}; the browser test runs {sorted(WIDGET_NOTEBOOKS)}"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a temporary copy of the widget notebooks, stopped with its kernels at the end."""
    if not browser_tests_enabled():
        pytest.skip("browser test is opt-in: LLM_COURSE_BROWSER_TESTS=1 ./course.sh test "
                    "(needs Chromium and Playwright; CI runs it)")
    missing = support.missing_requirements()
    if missing:
        pytest.fail("the browser test is enabled (LLM_COURSE_BROWSER_TESTS=1 or CI) but cannot run:\n  - "
                    + "\n  - ".join(missing), pytrace=False)
    base = tmp_path_factory.mktemp("browser")
    root, home = base / "notebooks", base / "home"
    root.mkdir()
    home.mkdir()
    for name in WIDGET_NOTEBOOKS:
        support.copy_without_outputs(NOTEBOOKS / name, root / name)
    kernel_env = {"OMP_NUM_THREADS": "1", "LLM_COURSE_DEVICE": "cpu"}
    with support.LabServer(root, home, kernel_env) as server:
        yield server
    shutil.rmtree(root, ignore_errors=True)  # the copies; the log and screenshots stay


@pytest.fixture(scope="module")
def browser(lab, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = support.launch_chromium(playwright, tmp_path_factory.mktemp("chromium-profile"))
        context.set_default_timeout(30_000)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory):
    return tmp_path_factory.mktemp("browser-screenshots")


class Ran:
    """A notebook that ran in the browser: the ``page``, its widget ``cell``, and :meth:`screenshot`."""

    def __init__(self, page, cell, shot: Path):
        self.page, self.cell, self.shot, self.taken = page, cell, shot, False

    def screenshot(self) -> None:
        viewport = self.page.viewport_size
        self.page.set_viewport_size({"width": viewport["width"], "height": 1600})  # the whole widget cell
        self.cell.scroll_into_view_if_needed()
        self.cell.screenshot(path=str(self.shot))
        self.page.set_viewport_size(viewport)
        self.taken = True
        print(f"screenshot of the widget cell: {self.shot}")


@pytest.fixture(scope="module")
def runs(lab, browser):
    """The notebooks, run two at a time (two cores): the next one runs while a test uses the widgets of another."""
    notebook_runs = support.NotebookRuns(lab, browser, WIDGET_NOTEBOOKS, PARALLEL, RUN_ALL_TIMEOUT_S)
    yield notebook_runs
    notebook_runs.close()


@pytest.fixture
def ran(request, runs, screenshots):
    """The notebook named by the test's parameter after Run All Cells, checked, as a :class:`Ran`."""
    name = request.param
    page = runs.page
    start = time.monotonic()
    try:
        try:
            panel, seconds = runs.take(name)
            not_done = None
        except AssertionError as err:  # say first which cell failed, if one did
            panel, not_done = runs.panel(name), err
        errors = support.error_outputs(support.save_notebook(page, runs.lab, name))
        if errors or not_done:
            shot = screenshots / f"{Path(name).stem}-not-done.png"
            page.screenshot(path=str(shot))
            print(f"screenshot of the page: {shot}")
        assert not errors, f"{name}: {len(errors)} cell(s) show an error:\n" + "\n".join(errors)
        if not_done:
            raise not_done
        print(f"{name}: opened and ran all cells in {seconds:.1f} s")
        cells = support.widget_cells(page, panel)
        assert cells.count() == 1, f"{name}: expected one widget cell, found {cells.count()}"
        cell = cells.first
        cell.scroll_into_view_if_needed()
        check_widget_cell(page, panel, cell, name)
        result = Ran(page, cell, screenshots / f"{Path(name).stem}.png")
        yield result
        if not result.taken:
            result.screenshot()
        # The test shuts down the kernel of each notebook it is done with (runs.release); the
        # widget manager of that idle tab then reports "Kernel is dead". That one is ours.
        page_errors = [e for e in runs.page_errors if e != "Kernel is dead"]
        runs.page_errors[:] = []
        assert not page_errors, f"the page raised JavaScript errors: {page_errors}"
        print(f"{name}: its test took {time.monotonic() - start:.1f} s")
    finally:
        runs.release(name)


def check_widget_cell(page, panel: str, cell, name: str) -> None:
    """The "run this cell" line is an output of its own above the live widget, and no widget failed to draw."""
    from llm_course.widgets import RUN_TO_SHOW

    outputs = cell.locator(".jp-OutputArea-output")
    texts = [" ".join(t.split()) for t in outputs.all_text_contents()]
    widget_at = [n for n in range(outputs.count()) if outputs.nth(n).locator(".jupyter-widgets").count()]
    assert widget_at, f"{name}: the widget cell shows no live widget"
    assert " ".join(RUN_TO_SHOW.split()) in texts[:widget_at[0]], \
        f"{name}: no 'run this cell' line above the widget; the cell's outputs: {texts}"
    notebook_text = page.text_content(panel)
    assert "Error displaying widget" not in notebook_text, f"{name}: a widget shows 'Error displaying widget'"


def wait_for(read, condition, what: str, timeout_s: float = WIDGET_TIMEOUT_S):
    """Poll ``read()`` until ``condition(value)`` holds; return the value, or fail with ``what`` and the last value."""
    deadline = time.monotonic() + timeout_s
    value = read()
    while not condition(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} within {timeout_s:.0f} s; it shows: {value!r}"[:3000])
        time.sleep(0.5)
        value = read()
    return value


def press_on_slider(cell, label: str, key: str, times: int = 1) -> str:
    """Focus the slider described ``label`` and press ``key``; return its readout afterwards."""
    slider = cell.locator(".widget-slider").filter(
        has=cell.page.locator(".widget-label", has_text=re.compile(f"^{re.escape(label)}$")))
    readout = slider.locator(".widget-readout")
    before = readout.inner_text()
    slider.locator(".noUi-handle").focus()
    for _ in range(times):
        slider.page.keyboard.press(key)
    return wait_for(readout.inner_text, lambda now: now != before, f"the {label} slider did not move on {key}")


def type_and_enter(box, text: str) -> None:
    box.click()
    box.fill(text)
    box.press("Enter")


# --------------------------------------------------------------------------
# 05: generation playground (interactive: text, dropdown, sliders, generate button -> printed text)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("ran", ["05_generation.ipynb"], indirect=True)
def test_generation_playground_uses_every_setting(ran):
    cell = ran.cell
    output = cell.locator(".widget-output")
    generate = cell.locator("button", has_text="생성 (generate)")
    prompt = "옛날 옛적 작은 마을에"

    # interactive(manual=True) runs on Enter in a text box too, with the settings as they are.
    type_and_enter(cell.locator(".widget-text input"), prompt)
    first = wait_for(output.inner_text, lambda now: f"{prompt}⟨" in now, "Enter in the prompt box generated nothing")
    assert "[sampling: temperature=1.0, top_k=off, top_p=1.0, seed=0, max_new_tokens=30]" in first

    assert press_on_slider(cell, "temperature", "ArrowRight") == "1.10"
    assert press_on_slider(cell, "top_k (0=off)", "ArrowRight") == "1"
    assert press_on_slider(cell, "top_p", "ArrowLeft") == "0.95"
    assert press_on_slider(cell, "max_new_tokens", "ArrowLeft", times=10) == "20"
    assert press_on_slider(cell, "seed", "ArrowRight") == "1"
    generate.click()
    sampled = wait_for(output.inner_text, lambda now: "max_new_tokens=20" in now,
                       "생성 (generate) printed nothing with the new settings")
    assert re.search(r"\[sampling: temperature=1\.1\d*, top_k=1, top_p=0\.95\d*, seed=1, max_new_tokens=20\]",
                     sampled), f"the printed settings are not the ones set: {sampled!r}"
    assert f"{prompt}⟨" in sampled

    cell.locator(".widget-dropdown select").select_option("greedy")
    generate.click()
    greedy = wait_for(output.inner_text, lambda now: "greedy" in now,
                      "the playground did not follow the mode dropdown")
    assert "[greedy (do_sample=False), max_new_tokens=20]" in greedy and f"{prompt}⟨" in greedy


# --------------------------------------------------------------------------
# 07: chat widget (text box, send and reset buttons -> transcript)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("ran", ["07_chat_templates.ipynb"], indirect=True)
def test_chat_widget_sends_on_enter_and_on_the_button_and_resets(ran):
    cell = ran.cell
    transcript = cell.locator(".widget-html-content").first
    box = cell.locator(".widget-text input")
    start = transcript.inner_text()
    assert start.startswith("system:"), f"the chat does not start with its system message: {start!r}"

    type_and_enter(box, "안녕하세요! What is the capital of France?")
    one = wait_for(transcript.inner_text, lambda now: now.count("assistant:") == 1,
                   "Enter in the chat box got no reply")
    assert "user: 안녕하세요! What is the capital of France?" in one
    assert box.input_value() == "", "the chat box was not emptied after sending"

    box.fill("Thank you. And of Italy?")
    cell.locator("button", has_text="보내기 (send)").click()
    wait_for(transcript.inner_text, lambda now: now.count("assistant:") == 2 and "user: Thank you. And of Italy?" in now,
             "보내기 (send) got no reply")

    ran.screenshot()
    cell.locator("button", has_text="새 대화 (reset)").click()
    wait_for(transcript.inner_text, lambda now: now == start, "새 대화 (reset) did not go back to the system message")


# --------------------------------------------------------------------------
# 01: token playground (text box, tokenizer dropdown -> coloured spans)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("ran", ["01_tokenization.ipynb"], indirect=True)
def test_token_playground_follows_the_text_and_the_tokenizer(ran):
    cell = ran.cell
    view = cell.locator(".widget-html-content")
    count = re.compile(r"(\d+) tokens")
    first = view.inner_text()
    assert count.search(first), f"the token view shows no count: {first!r}"

    type_and_enter(cell.locator(".widget-text input"), "고양이가 창가에서 잔다. The cat sleeps.")
    smol = wait_for(view.inner_text, lambda now: now != first and "cat" in now,
                    "the token view did not redraw for the new sentence")
    assert count.search(smol)

    options = cell.locator(".widget-dropdown select option").all_inner_texts()
    cell.locator(".widget-dropdown select").select_option(index=len(options) - 1)  # cl100k_base
    cl100k = wait_for(view.inner_text, lambda now: now != smol, "the token view did not follow the tokenizer dropdown")
    assert int(count.search(cl100k).group(1)) < int(count.search(smol).group(1)), \
        f"cl100k_base should need fewer tokens than SmolLM2 for Korean: {cl100k!r} vs {smol!r}"


# --------------------------------------------------------------------------
# 03: attention explorer (text box, layer and head sliders -> heatmap image)
# --------------------------------------------------------------------------


@pytest.mark.parametrize("ran", ["03_attention.ipynb"], indirect=True)
def test_attention_explorer_redraws_for_sliders_and_a_korean_sentence(ran):
    cell = ran.cell
    image = cell.locator("img.widget-image")
    message = cell.locator(".widget-html-content")
    digest = support.image_digest(image)

    assert press_on_slider(cell, "layer", "ArrowRight") == "2"
    digest_layer = wait_for(lambda: support.image_digest(image), lambda now: now != digest,
                            "the heatmap did not change with the layer slider")
    assert press_on_slider(cell, "head", "ArrowLeft") == "1"
    digest_head = wait_for(lambda: support.image_digest(image), lambda now: now != digest_layer,
                           "the heatmap did not change with the head slider")

    # Nine syllables: about 30 tokens, as SmolLM2 splits most syllables into 3 byte tokens (the view takes 40).
    type_and_enter(cell.locator(".widget-text input"), "고양이가 매트 위에 앉았다.")
    wait_for(lambda: (support.image_digest(image), message.inner_text().strip()),
             lambda now: now[0] != digest_head or now[1], "the heatmap did not change for a Korean sentence")
    assert message.inner_text().strip() == "", f"the explorer refused the Korean sentence: {message.inner_text()!r}"
    assert support.image_digest(image) != digest_head
