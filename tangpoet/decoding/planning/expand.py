"""Theme → one keyword per line: expand the theme by the corpus statistics of its characters, then choose.

Candidates and their weights (each key's row scaled to its best = 1):

1. the rows of the theme's characters, and of the theme's two-character pieces that the table knows as keywords
   (秋思 → 秋, 思, 秋思);
2. half the rows of the five best words of (1) (秋风 → 落叶, 寒蝉, …): what is written beside the theme's words.

Only keywords every character of which the model knows are kept. The plan draws ``lines`` of them (seeded), each
with probability ∝ its weight among the ``pool`` best, no two sharing a character and at most ``own`` holding a
character of the theme (a plan of 秋风, 秋水, 秋月, 秋色 says one thing four times). What is not drawn is kept, in
order, as the spares a line falls back on when its own keyword has no place there (the regulated tones, the
acrostic, the begin text decide).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tangpoet.errors import ConstraintError

POOL = 12  # draw among this many best candidates
SECOND_ORDER = 5  # the best first-order words whose rows are added
SECOND_WEIGHT = 0.5
OWN = 2  # at most this many keywords hold a character of the theme
SPARES = 8


@dataclass(frozen=True)
class ThemePlan:
    theme: str
    keywords: tuple[str, ...]  # one per line ("" where the statistics had nothing left)
    spares: tuple[str, ...] = ()

    def lines(self) -> list[list[str]]:
        """Per line, the keywords it may take, its own first."""
        return [([k] if k else []) + [s for s in self.spares if s != k] for k in self.keywords]


def candidates(theme: str, table, known=None) -> list[tuple[str, float]]:
    """``[(keyword, weight)]`` for ``theme``, best first; ``known(char)``: the model knows it."""
    keys = list(dict.fromkeys([*theme, *(theme[i : i + 2] for i in range(len(theme) - 1))]))
    scores: dict[str, float] = {}

    def add(row, scale: float) -> None:
        if not row:
            return
        top = max(w for _, w in row) or 1.0
        for word, weight in row:
            scores[word] = scores.get(word, 0.0) + scale * weight / top

    found = [key for key in keys if key in table]
    if not found:
        raise ConstraintError(
            f"no corpus statistics for the theme {theme!r}: none of its characters is in the theme table"
        )
    for key in found:
        add(table.related(key), 1.0)
    if theme in table.keywords and theme not in scores:  # a theme that is itself a keyword leads
        scores[theme] = max(scores.values(), default=1.0)
    first = sorted(scores, key=lambda w: (-scores[w], w))[:SECOND_ORDER]
    for word in first:
        add(table.related(word), SECOND_WEIGHT)
    ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    if known is not None:
        ranked = [(w, s) for w, s in ranked if all(known(c) for c in w)]
    return ranked


def plan_theme(theme: str, lines: int, table, rng: np.random.Generator, known=None, chars: int | None = None) -> ThemePlan:
    """One keyword per line for ``theme`` (see the module), drawn with ``rng``."""
    theme = "".join(theme.split())
    ranked = [(w, s) for w, s in candidates(theme, table, known) if chars is None or len(w) <= chars]
    if not ranked:
        raise ConstraintError(f"the theme {theme!r} gives no keyword this model can write")
    chosen: list[str] = []
    used: set[str] = set()
    own = 0
    left = list(ranked)
    while len(chosen) < lines:
        fits = [(w, s) for w, s in left if not used & set(w) and (own < OWN or not set(w) & set(theme))][:POOL]
        if not fits:
            break
        weights = np.asarray([s for _, s in fits], dtype=np.float64)
        pick = fits[int(rng.choice(len(fits), p=weights / weights.sum()))][0]
        chosen.append(pick)
        used |= set(pick)
        own += bool(set(pick) & set(theme))
        left = [(w, s) for w, s in left if w != pick]
    spares = tuple(w for w, _ in left if w not in chosen)[:SPARES]
    return ThemePlan(theme, tuple(chosen) + ("",) * (lines - len(chosen)), spares)
