"""tangpoet-rhyme: regulated verse (格律) for tangpoet — 平水韵 rhyme and 平仄 tone patterns as constraints.

Constraints (entry-point group ``tangpoet.constraints``), for every decoder: ``rhyme``, ``tones`` and ``regulated``
(``格律``, ``gelv``: both). Each masks while writing and checks a finished poem with the same rules
(:mod:`tangpoet_rhyme.rules`). The old ``rhyme-beam`` / ``rhyme-sample`` decoders are retired (a one-line pointer
to ``beam`` / ``top-p`` + ``--constraint rhyme``).

Importing this package is cheap: it imports neither Keras, OpenCC nor the rhyme data.

- :func:`check` — the violations of a poem under ``regulated`` (or ``rhyme`` / ``tones``);
- :func:`annotate` — per character 平/仄, the rhyme group at line ends, the line patterns;
- :func:`pingze` — the 平仄 marks of a text; :func:`rhyme_table` — char → 平水韵 groups and 平/仄.
"""

from __future__ import annotations

__version__ = "0.2.0"
__all__ = ["CONSTRAINTS", "DECODERS", "annotate", "check", "pingze", "rhyme_table"]

#: name → ``module:attribute``, as in this package's entry points.
CONSTRAINTS = {
    "rhyme": "tangpoet_rhyme.constraints:RhymeConstraint",
    "tones": "tangpoet_rhyme.constraints:TonesConstraint",
    "regulated": "tangpoet_rhyme.constraints:RegulatedConstraint",
}
DECODERS = {  # retired: they refuse in one line, naming the replacement
    "rhyme-beam": "tangpoet_rhyme.decoders:RhymeBeamDecoder",
    "rhyme-sample": "tangpoet_rhyme.decoders:RhymeSampleDecoder",
}


def _constraint(name: str, options: dict):
    from tangpoet_rhyme import constraints

    cls = {"rhyme": constraints.RhymeConstraint, "tones": constraints.TonesConstraint}.get(
        name, constraints.RegulatedConstraint
    )
    return cls(**options)


def check(text: str, constraint: str = "regulated", form=None, **options):
    """The rules ``text`` breaks (a list of Violations; empty: it is correct regulated verse)."""
    return _constraint(constraint, options).check(text, form)


def annotate(text: str, constraint: str = "regulated", form=None, **options) -> dict:
    """Per line: the characters, their 平/仄/平仄/?, the rhyme group at the end, the line's pattern; the pattern name."""
    return _constraint(constraint, options).annotate(text, form)


def pingze(text: str) -> str:
    """One mark per character: ``平``, ``仄``, ``中`` (both readings) or ``?`` (not in the 平水韵 data)."""
    table = rhyme_table()
    return "".join(table.tone(char) for char in text)


def rhyme_table():
    from tangpoet_rhyme.table import rhyme_table as table

    return table()
