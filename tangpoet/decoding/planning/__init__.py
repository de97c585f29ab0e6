"""Theme planning (``write --theme 秋思``): a theme → one keyword per line, from corpus statistics, placed as words.

* :mod:`~tangpoet.decoding.planning.build` — the statistics of a corpus (words, and which keywords its poems write
  beside each character), built once: ``tools/build_theme_table.py``;
* :mod:`~tangpoet.decoding.planning.table` — :class:`ThemeTable`, stored compactly (the bundled one: package data);
* :mod:`~tangpoet.decoding.planning.expand` — theme → candidates → :class:`ThemePlan` (seeded);
* :mod:`~tangpoet.decoding.planning.constraint` — :class:`ThemeConstraint`, placing the plan through the keyword
  machinery under every other constraint.
"""

from __future__ import annotations

from tangpoet.decoding.planning.expand import ThemePlan, candidates, plan_theme
from tangpoet.decoding.planning.table import ThemeTable, ThemeTableError, bundled_table, load_table

#: A themed poem without --form or --acrostic: a quatrain of five-character lines (a plan needs lines of a fixed
#: length to place its keywords in).
DEFAULT_THEME_FORM = "五言绝句"

__all__ = [
    "DEFAULT_THEME_FORM",
    "ThemePlan",
    "ThemeTable",
    "ThemeTableError",
    "bundled_table",
    "candidates",
    "load_table",
    "plan_theme",
]
