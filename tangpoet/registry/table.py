"""The table ``tangpoet plugins`` prints: every cell, decoder, constraint and scorer, where it comes from and
whether it loads. :func:`plugin_table` loads every entry point to report its status, which imports Keras through
the built-in cells."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from tangpoet.registry.kinds import CELLS, CONSTRAINTS, DECODERS, SCORERS

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
