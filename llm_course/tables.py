"""The course's one plain-text table: aligned columns, the first left-aligned, a rule under the header.

Printed tables in the notebooks (09's runs, 06's accuracies, ...) go through
:func:`format_table`; callers format their numbers first, so a table never
decides how many digits a measurement deserves.
"""

from __future__ import annotations


def format_table(headers: list[str], rows: list[list]) -> str:
    """A plain-text table with aligned columns (numbers formatted by the caller; notebooks 06 and 09)."""
    from .i18n import display_width

    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(display_width(row[i]) for row in cells) for i in range(len(headers))]

    def pad(text: str, width: int, left: bool) -> str:  # str.ljust counts a Hangul syllable as one column
        space = " " * (width - display_width(text))
        return text + space if left else space + text

    lines = ["  ".join(pad(c, w, left=not n) for n, (c, w) in enumerate(zip(row, widths))) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
