"""Plot helpers shared by the notebooks, and Korean text in every figure.

matplotlib's default font (DejaVu Sans) has no Hangul, so Korean labels come
out as empty boxes with "Glyph ... missing" warnings. The PyPI package
``koreanize-matplotlib`` bundles the NanumGothic font (SIL Open Font
License). We register its font files ourselves instead of importing the
package, whose import uses ``distutils`` (gone since Python 3.12, which Colab
runs). :func:`setup_fonts` runs once when this module is imported; every
helper here returns the figure it builds so tests and other code can use it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import matplotlib
from matplotlib import font_manager

KOREAN_FONT = "NanumGothic"
FIGURE_DPI = 80  # modest resolution keeps committed notebooks small

_fonts_ready = False


def korean_font_files() -> list[Path]:
    spec = importlib.util.find_spec("koreanize_matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "Korean labels need the NanumGothic font from the package 'koreanize-matplotlib'.\n"
            "Install it with:  pip install koreanize-matplotlib"
        )
    fonts = Path(list(spec.submodule_search_locations)[0]) / "fonts"
    return sorted(fonts.glob("*.ttf"))


def setup_fonts() -> str:
    """Register NanumGothic and make it matplotlib's default font (idempotent)."""
    global _fonts_ready
    if not _fonts_ready:
        for path in korean_font_files():
            font_manager.fontManager.addfont(str(path))
        matplotlib.rcParams["font.family"] = KOREAN_FONT
        matplotlib.rcParams["axes.unicode_minus"] = False  # NanumGothic has no U+2212 minus sign
        matplotlib.rcParams["figure.dpi"] = FIGURE_DPI
        matplotlib.rcParams["savefig.dpi"] = FIGURE_DPI
        _fonts_ready = True
    return KOREAN_FONT


setup_fonts()
