"""``likelihood``: the poem's length-normalised log-probability under the model (mean log-prob per token)."""

from __future__ import annotations

from tangpoet.decoding.scoring.base import Scorer, full_sequence


class LikelihoodScorer(Scorer):
    """Mean log-probability per token of the whole poem (begin text included, ``<eos>`` when it ended): fluency."""

    name = "likelihood"
    description = "mean log-probability per character under the model (fluency)"

    def score(self, candidates, context):
        sequences = [full_sequence(c) for c in candidates]
        return [float(values.mean()) if len(values) else float("-inf") for values in context.token_log_probs(sequences)]
