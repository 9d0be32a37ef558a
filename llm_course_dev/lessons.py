"""The course's lesson index, ``notebooks/lessons.toml``, and what the authoring tool makes of it
(for authors, not learners: it reads the repository checkout, like :mod:`llm_course_dev.authoring`).

One index says which lessons there are, their titles, a line on what each shows, and which terms
each one *defines* (KV cache → 06, logit → 04, perplexity → 08, LoRA → 09, ...). From it come:

* notebook 00's table of lessons: the placeholder ``{{LESSON_TABLE}}`` in a markdown block
  (:func:`lesson_table`, Korean in the Korean notebook, English in the English one);
* the README's course map (:func:`course_map`, given the links and Colab badges to use);
* two checks of the lessons' prose (``python -m llm_course_dev.authoring check``):
  :func:`index_problems` (every source has its entry and the same title) and
  :func:`cross_reference_problems`, which finds

  1. a pointer to the wrong lesson for a term: "(KV 캐시, 05)" when the index says 06 defines
     the KV cache (and 08 treats it in depth). A pointer is *for* a term when the term shares its
     parentheses (``KV 캐시, 05``, ``the KV cache, notebook 05``), stands right before them
     (``문장 임베딩(02)``), right after "NN의" / "notebook NN's" / "NN에서 본", or right before
     "of notebook NN";
  2. a term used before the lesson that defines it, with no line of that lesson (in that
     language) naming the defining lesson where it uses the term: 03 writing "출력(로짓)" while
     04 defines 로짓.

  A lesson is named as "NN 노트북", "노트북 NN", "notebook NN", "lesson NN", a link to
  ``NN_*.ipynb``, or a bare two-digit number 00-09 that is not part of a longer number
  ("05에서", "(05)", "01~07"). Only markdown prose is read (ko and en blocks, outside fenced code).

No notebook uses this module: it serves the authoring tool (``llm_course_dev.authoring``: ``build``,
``check`` and ``readme``, notebooks/AUTHORING.md). It runs a little over 400 lines because the index,
the two tables made from it and the check of the prose against it are one idea; the check's rule,
above, is small but needs its own reading of parentheses and lesson numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INDEX = ROOT / "notebooks" / "lessons.toml"
INDEX_NAME = "notebooks/lessons.toml"
LANGS = ("ko", "en")
PLACEHOLDER = "{{LESSON_TABLE}}"


class LessonIndexError(ValueError):
    """The index file is malformed; the message names the lesson and what to fix."""


@dataclass(frozen=True)
class Term:
    """A term as the index lists it: its Korean and English forms (the first of each is the one shown),
    the lesson that defines it, and later lessons that treat it in depth."""

    ko: tuple[str, ...]
    en: tuple[str, ...]
    lesson: str
    more: tuple[str, ...] = ()

    @property
    def lessons(self) -> tuple[str, ...]:
        """Every lesson a pointer for this term may name."""
        return (self.lesson, *self.more)

    @property
    def name(self) -> str:
        return f"{self.ko[0]} ({self.en[0]})"


@dataclass(frozen=True)
class Lesson:
    number: str
    stem: str | None
    title: dict
    see: dict
    terms: tuple[Term, ...] = ()
    planned: bool = False

    def heading(self, lang: str) -> str:
        """The first line of the lesson's source in ``lang``: ``# 04. <title>``."""
        return f"# {self.number}. {self.title[lang]}"


def _forms(value, where: str) -> tuple[str, ...]:
    forms = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, list) else ()
    if not forms or not all(isinstance(f, str) and f.strip() for f in forms):
        raise LessonIndexError(f"{INDEX_NAME}: {where} needs a non-empty string or list of strings")
    return forms


def _texts(entry: dict, key: str, where: str) -> dict:
    value = entry.get(key)
    if not isinstance(value, dict) or set(value) != set(LANGS) or not all(
            isinstance(value[lang], str) and value[lang].strip() for lang in LANGS):
        raise LessonIndexError(f"{INDEX_NAME}: {where} needs {key} = {{ ko = \"...\", en = \"...\" }}")
    return dict(value)


def parse_index(text: str) -> list[Lesson]:
    """The lessons of an index text, checked: numbers in order, one entry per term, known fields."""
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise LessonIndexError(f"{INDEX_NAME} is not valid TOML: {err}") from None
    entries = data.get("lesson")
    if not isinstance(entries, list) or not entries:
        raise LessonIndexError(f"{INDEX_NAME}: no [[lesson]] entries")
    lessons: list[Lesson] = []
    for entry in entries:
        number = entry.get("number")
        if not isinstance(number, str) or not re.fullmatch(r"\d\d", number):
            raise LessonIndexError(f"{INDEX_NAME}: number = {number!r}: write two digits in quotes, as in \"04\"")
        where = f"lesson {number}"
        expected = f"{len(lessons):02d}"
        if number != expected:
            raise LessonIndexError(f"{INDEX_NAME}: lessons must be numbered 00, 01, ... in order; "
                                   f"found {number} where {expected} belongs")
        unknown = set(entry) - {"number", "stem", "title", "see", "terms", "planned"}
        if unknown:
            raise LessonIndexError(f"{INDEX_NAME}: {where} has unknown field(s) {sorted(unknown)}")
        planned = entry.get("planned", False)
        if planned is not True and planned is not False:
            raise LessonIndexError(f"{INDEX_NAME}: {where}: planned must be true or false")
        title = _texts(entry, "title", where)
        if planned:
            if "stem" in entry or entry.get("terms"):
                raise LessonIndexError(f"{INDEX_NAME}: {where} is planned: it has no stem or terms until it is "
                                       "written (then drop planned = true)")
            see = _texts(entry, "see", where) if "see" in entry else {}
            lessons.append(Lesson(number, None, title, see, (), True))
            continue
        stem = entry.get("stem")
        if not isinstance(stem, str) or not re.fullmatch(rf"{number}_[a-z0-9_]+", stem):
            raise LessonIndexError(f"{INDEX_NAME}: {where} needs stem = \"{number}_topic\", "
                                   f"its source's name (notebooks/src/{number}_topic.nbsrc); got {stem!r}")
        terms = []
        for item in entry.get("terms", []):
            if not isinstance(item, dict) or set(item) - {"ko", "en", "more"}:
                raise LessonIndexError(f"{INDEX_NAME}: {where}: a term is {{ ko = ..., en = ..., more = [...] }}; "
                                       f"got {item!r}")
            more = item.get("more", [])
            if not isinstance(more, list) or not all(isinstance(m, str) and re.fullmatch(r"\d\d", m) for m in more):
                raise LessonIndexError(f"{INDEX_NAME}: {where}: more = {more!r} must list lesson numbers such as [\"08\"]")
            terms.append(Term(_forms(item.get("ko"), f"{where}, a term's ko"),
                              _forms(item.get("en"), f"{where}, a term's en"), number, tuple(more)))
        lessons.append(Lesson(number, stem, title, _texts(entry, "see", where), tuple(terms)))
    numbers = {lesson.number for lesson in lessons}
    seen: dict[str, str] = {}
    for lesson in lessons:
        for term in lesson.terms:
            for form in dict.fromkeys(f.casefold() for f in term.ko + term.en):
                if form in seen:
                    raise LessonIndexError(f"{INDEX_NAME}: '{form}' is listed by lessons {seen[form]} and "
                                           f"{lesson.number}: a term is defined by one lesson (list later ones in more)")
                seen[form] = lesson.number
            for later in term.more:
                if later not in numbers or later <= lesson.number:
                    raise LessonIndexError(f"{INDEX_NAME}: lesson {lesson.number}, {term.name}: more = [\"{later}\"] "
                                           "must name a later lesson of the index")
    return lessons


def load_index(path: Path | None = None) -> list[Lesson]:
    """The lessons of ``notebooks/lessons.toml`` (or ``path``), in order."""
    return parse_index((path or INDEX).read_text(encoding="utf-8"))


def all_terms(lessons: list[Lesson]) -> list[Term]:
    return [term for lesson in lessons for term in lesson.terms]


# ---------------------------------------------------------------------------
# The tables made from the index
# ---------------------------------------------------------------------------

NOT_WRITTEN = {"ko": "준비 중", "en": "not written yet"}
TABLE_HEADER = {"ko": ("노트북", "직접 보게 될 것"), "en": ("notebook", "what you will see for real")}


def lesson_table(lang: str, after: str | None = None, lessons: list[Lesson] | None = None) -> str:
    """Notebook 00's table of lessons in ``lang``: a link to each notebook (in the same folder) and what it
    shows; only the lessons after ``after`` (a lesson number) when given. A planned lesson is marked as
    not written yet, with no link."""
    lessons = load_index() if lessons is None else lessons
    first, last = TABLE_HEADER[lang]
    rows = [f"| {first} | {last} |", "| --- | --- |"]
    for lesson in lessons:
        if after is not None and lesson.number <= after:
            continue
        name = f"{lesson.number}. {lesson.title[lang]}"
        if lesson.planned:
            rows.append(f"| {name} ({NOT_WRITTEN[lang]}) | {lesson.see.get(lang) or '-'} |")
        else:
            rows.append(f"| [{name}]({lesson.stem}.ipynb) | {lesson.see[lang]} |")
    return "\n".join(rows)


def expand_table(text: str, lang: str, stem: str) -> str:
    """A markdown block with ``{{LESSON_TABLE}}`` replaced by the table of the lessons after ``stem``'s."""
    return text.replace(PLACEHOLDER, lesson_table(lang, after=stem[:2])) if PLACEHOLDER in text else text


def course_map(links: Callable[[str, str], tuple[str, str]], lessons: list[Lesson] | None = None) -> str:
    """The README's table of lessons. ``links(stem, lang)`` gives a notebook's path from the README and the
    address that opens it in Colab; a planned lesson gets neither and says it is not written yet."""
    lessons = load_index() if lessons is None else lessons
    rows = ["| # | 한국어 | English |", "| --- | --- | --- |"]
    for lesson in lessons:
        cells = []
        for lang in LANGS:
            name = f"{lesson.number}. {lesson.title[lang]}"
            if lesson.planned:
                cells.append(f"{name} ({NOT_WRITTEN[lang]})")
                continue
            path, colab = links(lesson.stem, lang)
            badge = f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab})"
            cells.append(f"[{name}]({path}) {badge}<br>{lesson.see[lang]}")
        rows.append(f"| {lesson.number} | {cells[0]} | {cells[1]} |")
    return "\n".join(rows)


# ---------------------------------------------------------------------------
# Checking the lessons' prose against the index
# ---------------------------------------------------------------------------

def prose_lines(source: str) -> Iterator[tuple[int, str, str]]:
    """``(line number, lang, text)`` for every line of a ``.nbsrc`` text's ko and en blocks, outside fenced
    code (a ```python example in the prose is code, not prose)."""
    lang, fenced = None, False
    for number, line in enumerate(source.splitlines(), 1):
        if line.startswith("=== "):
            kind = line[4:].split()[0] if line[4:].split() else ""
            lang, fenced = (kind if kind in LANGS else None), False
        elif lang:
            if line.lstrip().startswith("```"):
                fenced = not fenced
            elif not fenced and line.strip():
                yield number, lang, line


def title_lines(source: str) -> dict:
    """The first prose line of each language: the lesson's heading."""
    found: dict = {}
    for _, lang, line in prose_lines(source):
        found.setdefault(lang, line)
    return found


def index_problems(sources: dict[str, str], complete: bool = True, lessons: list[Lesson] | None = None) -> list[str]:
    """Disagreements between the index and the sources (``{stem: .nbsrc text}``): a source without an entry,
    another title; with ``complete``, also an entry without a source and a planned lesson already written."""
    try:
        lessons = load_index() if lessons is None else lessons
    except LessonIndexError as err:
        return [str(err)]
    by_stem = {lesson.stem: lesson for lesson in lessons if not lesson.planned}
    problems = []
    for stem, text in sources.items():
        lesson = by_stem.get(stem)
        if lesson is None:
            same = [x for x in lessons if x.number == stem[:2]]
            hint = (f" (lesson {stem[:2]} there is {'planned: write its stem and drop planned = true' if same[0].planned else f'{same[0].stem}'})"
                    if same else "")
            problems.append(f"notebooks/src/{stem}.nbsrc has no entry in {INDEX_NAME}{hint}")
            continue
        have = title_lines(text)
        for lang in LANGS:
            if have.get(lang) != lesson.heading(lang):
                problems.append(f"notebooks/src/{stem}.nbsrc: the {lang} title is {have.get(lang)!r}, "
                                f"{INDEX_NAME} says {lesson.heading(lang)!r}: make them the same")
    if complete:
        problems += [f"{INDEX_NAME} lists lesson {stem[:2]} ({stem}) but notebooks/src/{stem}.nbsrc does not exist"
                     for stem in by_stem if stem not in sources]
        written = {stem[:2] for stem in sources}
        problems += [f"{INDEX_NAME}: lesson {lesson.number} is marked planned = true but its source exists: "
                     "give it its stem, see and terms and drop planned" for lesson in lessons
                     if lesson.planned and lesson.number in written]
    return problems


REFERENCE = re.compile(
    r"\]\((?P<link>\d\d)_[\w-]+\.ipynb\)"  # a link to a notebook: [노트북 09](09_finetuning.ipynb)
    r"|(?:[Nn]otebooks?|[Ll]essons?|노트북)\s(?P<named>\d\d)(?!\d)"  # notebook 05, 노트북 05
    r"|(?<![0-9A-Za-z_.,$^:/-])(?P<before>\d\d)(?=\s노트북)"  # 05 노트북 (also 10 노트북)
    # 05에서, (05), 01~07: a bare 00-09, not part of a number, a name or a formula (Hangul may follow)
    r"|(?<![0-9A-Za-z_.,$^:/-])(?P<bare>0\d)(?![0-9A-Za-z_^%:/-]|[.,]\d)"
)


def references(line: str) -> list[tuple[str, int, int]]:
    """The lessons a line names, each with the span of its number (a link's span is the link text's)."""
    found = []
    for m in REFERENCE.finditer(line):
        group = next(g for g in ("link", "named", "before", "bare") if m.group(g))
        if group == "link":
            start = line.rfind("[", 0, m.start())
            found.append((m.group(group), max(start, 0), m.start()))
        else:
            found.append((m.group(group), m.start(group), m.end(group)))
    return found


def _form_pattern(form: str) -> str:
    if re.search(r"[가-힣]", form):
        return re.escape(form)  # Korean: particles attach to the word (로짓은, 로짓을)
    first = form[0]
    head = f"[{first.upper()}{first.lower()}]" if form.islower() and first.isalpha() else re.escape(first)
    # a whole word, maybe plural; a Korean particle may follow ("RMSNorm까지")
    return rf"(?<![0-9A-Za-z_-]){head}{re.escape(form[1:])}(?:e?s)?(?![0-9A-Za-z_-])"


def mentions(line: str, terms: list[Term]) -> list[tuple[Term, int, int]]:
    """The terms a line uses, longest form first, without overlaps ("로짓 렌즈" is not also "로짓"). Inside
    inline code a term counts only as the whole code span (`past_key_values`, not `attention.head_by_hand`)."""
    code = [(m.start(), m.end()) for m in re.finditer(r"`[^`]+`", line)]

    def in_prose(start: int, end: int) -> bool:
        return all(end <= s or start >= e or (start, end) == (s + 1, e - 1) for s, e in code)

    spans = []
    for term in terms:
        for form in term.ko + term.en:
            spans += [(m.end() - m.start(), m.start(), m.end(), term) for m in re.finditer(_form_pattern(form), line)
                      if in_prose(m.start(), m.end())]
    taken: list[tuple[Term, int, int]] = []
    for _, start, end, term in sorted(spans, key=lambda s: (-s[0], s[1])):
        if all(end <= s or start >= e for _, s, e in taken):
            taken.append((term, start, end))
    return sorted(taken, key=lambda t: t[1])


def _parentheses(line: str, start: int) -> tuple[int, int] | None:
    """The innermost ``( ... )`` around position ``start`` (not a markdown link's target)."""
    depth, opening = 0, None
    for i in range(start - 1, -1, -1):
        if line[i] == ")":
            depth += 1
        elif line[i] == "(":
            if depth == 0:
                opening = i
                break
            depth -= 1
    if opening is None or (opening > 0 and line[opening - 1] == "]"):
        return None
    depth = 0
    for j in range(start, len(line)):
        if line[j] == "(":
            depth += 1
        elif line[j] == ")":
            if depth == 0:
                return opening, j
            depth -= 1
    return None


AFTER_GENITIVE = re.compile(r"(?:\s?노트북)?(?:의|에서 \S+|'s)\s+[`*]*")
BEFORE_OF = re.compile(r"\s(?:of|from|in)\s(?:[Nn]otebook|[Ll]esson)\s$")


def pointed_terms(line: str, start: int, end: int, found: list[tuple[Term, int, int]]) -> list[Term]:
    """The terms that a lesson number at ``line[start:end]`` points to (see the module's docstring)."""
    out = []
    inside = _parentheses(line, start)
    if inside:
        opening, closing = inside
        before = opening - len(line[:opening].rstrip())  # spaces between a term and its "("
        out += [t for t, s, e in found if opening < s and e <= closing or e == opening - before]
    follow = AFTER_GENITIVE.match(line, end)
    if follow:
        out += [t for t, s, _ in found if s == follow.end()]
    prefix = line[:start]
    of = BEFORE_OF.search(prefix)
    if of:
        out += [t for t, _, e in found if e == of.start()]
    return out


def cross_reference_problems(sources: dict[str, str], lessons: list[Lesson] | None = None) -> list[str]:
    """Every pointer to the wrong lesson for a term, and every term used before its lesson without saying
    where it is defined, in the sources given (``{stem: .nbsrc text}``); one message per finding, with the
    file, line, language and the fix."""
    try:
        lessons = load_index() if lessons is None else lessons
    except LessonIndexError as err:
        return [str(err)]
    terms = all_terms(lessons)
    problems: list[str] = []
    for stem, text in sources.items():
        here = stem[:2]
        file = f"notebooks/src/{stem}.nbsrc"
        first_use: dict = {}  # (lang, term) -> (line number, text) of its first use before its lesson
        told: set = set()  # (lang, term): a line that uses the term names one of its lessons
        for number, lang, line in prose_lines(text):
            found = mentions(line, terms)
            refs = references(line)
            for lesson, start, end in refs:
                if lesson == here:
                    continue
                for term in dict.fromkeys(pointed_terms(line, start, end, found)):
                    if lesson not in term.lessons:
                        where = " and ".join(term.lessons)
                        problems.append(f"{file}:{number} ({lang}): points to {lesson} for {term.name}, but "
                                        f"{INDEX_NAME} says {where} {'teach' if len(term.lessons) > 1 else 'teaches'} "
                                        f"it: write {term.lesson} ({line[max(0, start - 30):end + 30].strip()!r})")
            named = {lesson for lesson, _, _ in refs}
            for term, _, _ in found:
                if term.lesson > here:
                    first_use.setdefault((lang, term), (number, line))
                    if named & set(term.lessons):
                        told.add((lang, term))
        for (lang, term), (number, line) in first_use.items():
            if (lang, term) not in told:
                problems.append(f"{file}:{number} ({lang}): uses {term.name} before lesson {term.lesson}, which "
                                f"defines it, and no line of {stem[:2]} that uses it says so: add a pointer such as "
                                f"'({term.lesson})' here, or define it here and move it to this lesson in "
                                f"{INDEX_NAME} ({line.strip()[:90]!r})")
    return problems
