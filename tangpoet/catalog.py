"""What plugins tangpoet knows about: the entry-point groups, the built-in targets, the one registry object per kind,
and the table `tangpoet plugins` prints.

Importing this module is cheap (no Keras): shell completion reads names from here. :func:`plugin_table` loads every
entry point to report its status, which does import Keras through the built-in cells.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from tangpoet.registry import Registry

CELL_GROUP = "tangpoet.cells"
DECODER_GROUP = "tangpoet.decoders"
CONSTRAINT_GROUP = "tangpoet.constraints"
SCORER_GROUP = "tangpoet.scorers"

# Built-in targets, used only when tangpoet's own distribution metadata is missing (a source tree without
# `pip install`); installed, the built-ins come from tangpoet's own entry points like any plugin.
BUILTIN_CELLS = {"rnn": "tangpoet.cells:RNN", "lstm": "tangpoet.cells:LSTM", "gru": "tangpoet.cells:GRU"}
BUILTIN_DECODERS = {
    "greedy": "tangpoet.decoding.greedy:GreedyDecoder",
    "sample": "tangpoet.decoding.sampling:SampleDecoder",
    "top-k": "tangpoet.decoding.sampling:TopKDecoder",
    "top-p": "tangpoet.decoding.sampling:TopPDecoder",
    "beam": "tangpoet.decoding.beam:BeamDecoder",
}
BUILTIN_CONSTRAINTS = {
    "form": "tangpoet.decoding.constraints.form:FormConstraint",
    "acrostic": "tangpoet.decoding.constraints.acrostic:AcrosticConstraint",
    "begin": "tangpoet.decoding.constraints.prefix:BeginConstraint",
    "no-repeat": "tangpoet.decoding.constraints.repeat:NoRepeatConstraint",
    "keywords": "tangpoet.decoding.constraints.keywords:KeywordsConstraint",
    "verse": "tangpoet.decoding.constraints.verse:VerseConstraint",
}
BUILTIN_SCORERS = {
    "likelihood": "tangpoet.decoding.scoring.likelihood:LikelihoodScorer",
    "coherence": "tangpoet.decoding.scoring.coherence:CoherenceScorer",
}


# One registry object per kind, read by everything: the library (``tangpoet.cells.CELLS``,
# ``tangpoet.decoding.DECODERS``, … are these), shell completion, ``tangpoet plugins`` and the server's ``/info`` — so
# a name registered at run time (``DECODERS.register(...)``) is offered everywhere.
CELLS: Registry = Registry("cell", CELL_GROUP, fallback=BUILTIN_CELLS)
DECODERS: Registry = Registry("decoder", DECODER_GROUP, fallback=BUILTIN_DECODERS)
CONSTRAINTS: Registry = Registry("constraint", CONSTRAINT_GROUP, fallback=BUILTIN_CONSTRAINTS, aliases=True)
SCORERS: Registry = Registry("scorer", SCORER_GROUP, fallback=BUILTIN_SCORERS)
REGISTRIES: dict[str, Registry] = {"cell": CELLS, "decoder": DECODERS, "constraint": CONSTRAINTS, "scorer": SCORERS}


def registry(kind: str) -> Registry:
    """The registry of ``kind``: ``"cell"``, ``"decoder"``, ``"constraint"`` or ``"scorer"``."""
    try:
        return REGISTRIES[kind]
    except KeyError:
        raise ValueError(f"unknown plugin kind {kind!r}") from None


def available_names(kind: str) -> list[str]:
    """Names of the installed cells (``kind="cell"``), decoders, constraints or scorers, without importing Keras.

    Cells and decoders are not imported either; constraints (light modules) are, to offer their aliases too."""
    found = registry(kind)
    names = found.names()
    if found.with_aliases:
        names += [alias for name in list(names) for alias in found.aliases(name) if alias not in names]
    return names


@dataclass(frozen=True)
class PluginRow:
    kind: str
    name: str
    distribution: str
    version: str | None
    builtin: bool
    status: str  # "ok", "broken: <reason>" or "retired: <what replaces it>"
    aliases: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        out = asdict(self)
        out["aliases"] = list(self.aliases)
        return out


def plugin_table() -> list[PluginRow]:
    """Every cell, decoder, constraint and scorer, built-in or plugin, with where it comes from and whether it loads."""
    rows = []
    for registry in (CELLS, DECODERS, CONSTRAINTS, SCORERS):
        for entry in registry.entries():
            rows.append(
                PluginRow(
                    entry.kind,
                    entry.name,
                    entry.distribution,
                    entry.version,
                    entry.builtin,
                    registry.status(entry.name),
                    registry.aliases(entry.name),
                )
            )
    return rows


def format_table(rows: list[PluginRow]) -> str:
    """A plain-text table, one row per plugin."""
    header = ("KIND", "NAME", "DISTRIBUTION", "VERSION", "BUILT-IN", "STATUS")
    cells = [header] + [
        (
            r.kind,
            r.name,
            r.distribution,
            r.version or "-",
            "yes" if r.builtin else "no",
            r.status + (f"  (aliases: {', '.join(r.aliases)})" if r.aliases else ""),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header) - 1)]
    lines = []
    for row in cells:
        lines.append("  ".join(value.ljust(width) for value, width in zip(row, widths)) + "  " + row[-1])
    return "\n".join(lines)
