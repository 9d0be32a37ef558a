"""The course's one plain-text table: aligned columns, the first left-aligned, a rule under the header.

Printed tables in the notebooks (09's runs, 06's accuracies, ...) go through
:func:`format_table`; callers format their numbers first, so a table never
decides how many digits a measurement deserves.
"""

from __future__ import annotations


def format_table(headers: list[str], rows: list[list]) -> str:
    """A plain-text table with aligned columns (numbers formatted by the caller; notebooks 06 and 09)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) if n else c.ljust(w) for n, (c, w) in enumerate(zip(row, widths)))
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
