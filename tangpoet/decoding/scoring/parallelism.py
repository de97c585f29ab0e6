"""``parallelism``: how parallel the couplets that must be parallel are (a 律诗's lines 3–4 and 5–6), by the pairing
table of :mod:`tangpoet.decoding.couplets` — for best-of-N (``write --candidates 8 --scorer parallelism``).

The score is the share of paired positions (:func:`~tangpoet.decoding.couplets.measure.parallelism`), ties broken by
the mean pairing score (nats, clipped to ±4, weighted 1/1000 so it never outweighs one paired position). A poem of a
form with no such couplet (a 绝句, free verse) scores 0.
"""

from __future__ import annotations

from tangpoet.decoding.scoring.base import Scorer

TIE_BREAK = 1e-3


class ParallelismScorer(Scorer):
    """Paired share of the couplets that must be parallel (+ 1/1000 of their mean pairing score)."""

    name = "parallelism"
    description = "对仗: share of paired positions in a 律诗's middle couplets, by the pairing table"

    def __init__(self, table=None):
        self.table = table

    def score(self, candidates, context=None):
        from tangpoet.decoding.constraints.form import detect_form
        from tangpoet.decoding.couplets.measure import couplet_reports
        from tangpoet.decoding.couplets.table import load_table

        table = load_table(self.table)
        out = []
        for candidate in candidates:
            text = candidate.text if hasattr(candidate, "text") else str(candidate)
            pairs = [p for r in couplet_reports(text, detect_form(text), table) for p in r.pairs]
            if not pairs:
                out.append(0.0)
                continue
            share = sum(p.paired for p in pairs) / len(pairs)
            mean = sum(p.score or 0.0 for p in pairs) / len(pairs)
            out.append(share + TIE_BREAK * mean)
        return out
