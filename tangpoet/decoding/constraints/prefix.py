"""``--begin``: the poem starts with a given text (processor and constraint)."""

from __future__ import annotations

from collections.abc import Sequence

from tangpoet.decoding.constraints.base import NEG_INF, Constraint, LogitsProcessor, Violation
from tangpoet.decoding.forms import Form


class ForcedPrefix(LogitsProcessor):
    """The poem starts with ``ids`` (``--begin``)."""

    def __init__(self, ids: Sequence[int], text: str = ""):
        self.ids = [int(i) for i in ids]
        self.text = text

    def __call__(self, history, log_probs):
        t = history.shape[1]
        if t < len(self.ids):
            keep = log_probs[:, self.ids[t]].copy()
            log_probs[:] = NEG_INF
            log_probs[:, self.ids[t]] = keep
        return log_probs

    def describe(self) -> str:
        return f"the begin text {self.text}"


class BeginConstraint(Constraint):
    """``begin``: the poem starts with ``text`` (the same as ``--begin``)."""

    name = "begin"
    option_names = ("text",)
    description = "the poem starts with text= (same as --begin)"

    def __init__(self, **options):
        super().__init__(**options)
        self.text = self.text_option("text") or ""

    def check(self, text: str, form: Form | None) -> list[Violation]:
        if self.text and not text.startswith(self.text):
            return [Violation("begin", 0, None, f"the poem does not start with {self.text}")]
        return []
