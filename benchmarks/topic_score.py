"""The reader table's **on-topic** score (issue 33): how much a poem's characters go with its subject (a title or a
theme), by the company they keep in real poems — independent of every model, so that models can be compared.

From the titled poems a table is built of how often a character of a title and a character of the content come
together in one poem; the positive pointwise mutual information of the pair (PPMI, natural log) says how much more
often than chance. A poem's score against its subject is the mean, over the subject's characters seen in at least
``min_count`` training titles, of the mean PPMI of that character with the poem's distinct characters: 0 when nothing
of the poem goes with the subject, higher the more its characters are the ones real poems on that subject use.

The score's anchors are real held-out poems (never in the table) against **their own titles** and against **shuffled
titles** (the title of another held-out poem): a measure of topic must tell those apart, and the gap says how far.
Built from the model's training split of the Tang corpus (its held-out poems left out).
"""

from __future__ import annotations

import math
from collections import Counter


class TopicScore:
    """``score(subject, poem)``: the on-topic figure (see the module) from ``pairs`` of (title, content)."""

    def __init__(self, pairs, min_count: int = 5):
        self.min_count = min_count
        self.title_counts: Counter = Counter()
        self.content_counts: Counter = Counter()
        self.pair_counts: Counter = Counter()
        self.poems = 0
        for title, content in pairs:
            if not title:
                continue
            t_chars, c_chars = set(title), {c for c in content if c.isalpha()}
            self.poems += 1
            self.title_counts.update(t_chars)
            self.content_counts.update(c_chars)
            self.pair_counts.update((t, c) for t in t_chars for c in c_chars)

    def ppmi(self, t: str, c: str) -> float:
        joint = self.pair_counts.get((t, c), 0)
        if not joint:
            return 0.0
        return max(0.0, math.log(joint * self.poems / (self.title_counts[t] * self.content_counts[c])))

    def score(self, subject: str, poem: str) -> float | None:
        """The on-topic figure of ``poem`` against ``subject``; None when no character of the subject is known."""
        known = [t for t in set(subject) if self.title_counts.get(t, 0) >= self.min_count]
        chars = {c for c in poem if c.isalpha()}
        if not known or not chars:
            return None
        return sum(sum(self.ppmi(t, c) for c in chars) / len(chars) for t in known) / len(known)

    def mean(self, subjects, poems) -> float | None:
        """The mean score over ``zip(subjects, poems)`` (pairs with no known subject character left out)."""
        scores = [s for s in (self.score(t, p) for t, p in zip(subjects, poems)) if s is not None]
        return sum(scores) / len(scores) if scores else None
