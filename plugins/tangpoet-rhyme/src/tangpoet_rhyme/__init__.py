"""tangpoet-rhyme: 平水韵 rhyme for regulated verse, as tangpoet decoders (``rhyme-beam``, ``rhyme-sample``).

Importing this package is cheap: it imports neither Keras, OpenCC nor the rhyme data; the rhyme table is built on
first use (:func:`rhyme_table`) and the decoders load when tangpoet asks for them through the ``tangpoet.decoders``
entry points.

- :func:`check` — lines, line ends, 平仄, whether the even lines rhyme;
- :func:`rhyme_table` — char (simplified or traditional) → 平水韵 groups and 平/仄;
- :func:`register` — make the decoders known to tangpoet in this process (for a tangpoet whose decoder registry does
  not read entry points).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["DECODERS", "RhymeBeamDecoder", "RhymeSampleDecoder", "check", "pingze", "register", "rhyme_table"]

#: name → ``module:attribute``, as in this package's ``tangpoet.decoders`` entry points.
DECODERS = {
    "rhyme-beam": "tangpoet_rhyme.decoders:RhymeBeamDecoder",
    "rhyme-sample": "tangpoet_rhyme.decoders:RhymeSampleDecoder",
}


def register() -> list[str]:
    """Add the decoders to tangpoet's registry in this process where it does not list them yet; the names added."""
    from importlib import import_module

    from tangpoet.decoding import DECODERS as registry

    added = []
    for name, target in DECODERS.items():
        if name in registry:
            continue
        module, attribute = target.split(":")
        registry.add(name, lambda m=module, a=attribute: getattr(import_module(m), a), distribution="tangpoet-rhyme")
        added.append(name)
    return added


def __getattr__(name: str) -> Any:
    if name in ("check", "pingze"):
        from tangpoet_rhyme import checker

        return getattr(checker, name)
    if name == "rhyme_table":
        from tangpoet_rhyme.table import rhyme_table

        return rhyme_table
    if name in ("RhymeBeamDecoder", "RhymeSampleDecoder"):
        from tangpoet_rhyme import decoders

        return getattr(decoders, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
