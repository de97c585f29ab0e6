"""One registry abstraction, used for recurrent cells and for decoders.

A registry maps names to objects. Built-ins are registered by tangpoet itself; :func:`Registry.register` adds
more in-process (notebooks, tests). Looking up an unknown name is a :class:`UnknownNameError` that lists what
exists and suggests the closest name.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from tangpoet.errors import UnknownNameError

T = TypeVar("T")


def did_you_mean(name: str, choices: list[str]) -> str:
    """``" (did you mean 'lstm'?)"`` for the closest of ``choices``, or ``""`` if none is close."""
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Registry(Generic[T]):
    """Named objects of one kind (``kind`` is used in messages, e.g. ``"cell"``)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Callable[[], T]] = {}
        self._loaded: dict[str, T] = {}

    def add(self, name: str, loader: Callable[[], T]) -> None:
        """Register ``loader``, called once, the first time ``name`` is asked for."""
        self._entries[name] = loader
        self._loaded.pop(name, None)

    def register(self, name: str) -> Callable[[Any], Any]:
        """Decorator: ``@CELLS.register("mycell")`` registers the decorated object under ``name``."""

        def decorate(obj):
            self.add(name, lambda: obj)
            return obj

        return decorate

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def get(self, name: str) -> T:
        if name not in self._entries:
            known = self.names()
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}{did_you_mean(name, known)}; available: {', '.join(known)}"
            )
        if name not in self._loaded:
            self._loaded[name] = self._entries[name]()
        return self._loaded[name]
