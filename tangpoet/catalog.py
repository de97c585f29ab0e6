"""What plugins tangpoet knows about: the entry-point groups, the built-in targets, and the table `tangpoet plugins` prints.

Importing this module is cheap (no Keras): shell completion reads names from here. :func:`plugin_table` loads every
entry point to report its status, which does import Keras through the built-in cells.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

CELL_GROUP = "tangpoet.cells"
DECODER_GROUP = "tangpoet.decoders"

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


def available_names(kind: str) -> list[str]:
    """Names of the installed cells (``kind="cell"``) or decoders, without importing any of them or Keras."""
    from tangpoet.registry import Registry

    if kind == "cell":
        return Registry("cell", CELL_GROUP, fallback=BUILTIN_CELLS).names()
    if kind == "decoder":
        return Registry("decoder", DECODER_GROUP, fallback=BUILTIN_DECODERS).names()
    raise ValueError(f"unknown plugin kind {kind!r}")


@dataclass(frozen=True)
class PluginRow:
    kind: str
    name: str
    distribution: str
    version: str | None
    builtin: bool
    status: str  # "ok" or "broken: <reason>"

    def to_dict(self) -> dict:
        return asdict(self)


def plugin_table() -> list[PluginRow]:
    """Every cell and decoder, built-in or plugin, with where it comes from and whether it loads."""
    from tangpoet.cells import CELLS
    from tangpoet.decoding import DECODERS

    rows = []
    for registry in (CELLS, DECODERS):
        for entry in registry.entries():
            rows.append(
                PluginRow(
                    entry.kind,
                    entry.name,
                    entry.distribution,
                    entry.version,
                    entry.builtin,
                    registry.status(entry.name),
                )
            )
    return rows


def format_table(rows: list[PluginRow]) -> str:
    """A plain-text table, one row per plugin."""
    header = ("KIND", "NAME", "DISTRIBUTION", "VERSION", "BUILT-IN", "STATUS")
    cells = [header] + [
        (r.kind, r.name, r.distribution, r.version or "-", "yes" if r.builtin else "no", r.status) for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header) - 1)]
    lines = []
    for row in cells:
        lines.append("  ".join(value.ljust(width) for value, width in zip(row, widths)) + "  " + row[-1])
    return "\n".join(lines)
