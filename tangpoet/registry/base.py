"""One registry abstraction, used for recurrent cells (``tangpoet.cells``), decoders (``tangpoet.decoders``) and
constraints (``tangpoet.constraints``).

Names come from Python entry points — tangpoet's own built-ins take the same path as third-party plugins — and
from in-process :meth:`Registry.register` calls (notebooks, tests). Rules:

- entry points load lazily: only the one asked for is imported;
- built-ins win name clashes; two plugins claiming one name is an error naming both distributions;
- an unknown name lists what exists and suggests the closest;
- a plugin that fails to import is reported by name (and listed as broken) and does not break the others;
- ``TANGPOET_DISABLE_PLUGINS=1`` turns third-party plugins off;
- a registry made with ``aliases=True`` (constraints) also finds a name whatever its case or ``-``/``_``, and by
  an alias the loaded object lists in its ``aliases`` attribute (e.g. ``格律`` → ``regulated``).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Generic, TypeVar

from tangpoet.errors import TangpoetError, UnknownNameError

T = TypeVar("T")

OWN_DISTRIBUTION = "tangpoet"
IN_PROCESS = "<in-process>"


class PluginError(TangpoetError):
    """A plugin that cannot be used: it failed to import, or two plugins claim the same name."""


def plugins_disabled() -> bool:
    return os.environ.get("TANGPOET_DISABLE_PLUGINS", "").strip().lower() in {"1", "true", "yes", "on"}


def did_you_mean(name: str, choices: list[str]) -> str:
    """``" (did you mean 'lstm'?)"`` for the closest of ``choices``, or ``""`` if none is close."""
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _normalise(dist_name: str) -> str:
    return dist_name.lower().replace("_", "-").replace(".", "-")


@dataclass
class Entry:
    """One registered name. ``target`` is ``module:attr`` for entry points, or a description for in-process ones."""

    kind: str
    name: str
    distribution: str
    version: str | None
    builtin: bool
    target: str
    load: Callable[[], Any] = field(repr=False)
    rivals: list[str] = field(default_factory=list)  # other plugin distributions claiming this name


class Registry(Generic[T]):
    """Named objects of one kind, discovered from the entry-point ``group``.

    ``fallback`` maps built-in names to ``module:attr`` targets; it is used only when tangpoet's own distribution
    metadata is not installed (running from a source tree without ``pip install``), so built-ins always exist.
    """

    def __init__(
        self, kind: str, group: str | None = None, fallback: dict[str, str] | None = None, aliases: bool = False,
        retires: bool = False,
    ):
        self.kind = kind
        self.with_aliases = aliases
        # entries of this kind may be retired (kept only to name a replacement: decoders); telling one needs loading
        # it, so a kind that never retires answers an unknown name without loading anything (no Keras for a typo)
        self.retires = retires
        self.group = group
        self.fallback = dict(fallback or {})
        self._entries: dict[str, Entry] | None = None
        self._in_process: dict[str, Entry] = {}
        self._loaded: dict[str, Any] = {}

    # ------------------------------------------------------------------ discovery
    def _discover(self) -> dict[str, Entry]:
        if self._entries is not None:
            return self._entries
        builtins: dict[str, Entry] = {}
        plugins: dict[str, list[Entry]] = {}
        seen: set[tuple[str, str, str]] = set()
        for point in metadata.entry_points(group=self.group) if self.group else ():
            dist = point.dist
            dist_name = dist.metadata["Name"] if dist is not None else "unknown"
            key = (_normalise(dist_name), point.name, point.value)
            if key in seen:  # the same distribution visible twice on sys.path
                continue
            seen.add(key)
            builtin = _normalise(dist_name) == OWN_DISTRIBUTION
            if not builtin and plugins_disabled():
                continue
            entry = Entry(
                self.kind,
                point.name,
                dist_name,
                dist.version if dist is not None else None,
                builtin,
                point.value,
                point.load,
            )
            if builtin:
                builtins[point.name] = entry
            else:
                plugins.setdefault(point.name, []).append(entry)
        if not builtins:  # not installed as a distribution: built-ins from the fallback table
            for name, target in self.fallback.items():
                builtins[name] = Entry(self.kind, name, OWN_DISTRIBUTION, None, True, target, _loader(target))
        entries = dict(builtins)
        for name, claims in plugins.items():
            if name in builtins:
                continue  # built-ins win
            first = claims[0]
            first.rivals = [c.distribution for c in claims[1:] if _normalise(c.distribution) != _normalise(first.distribution)]
            entries[name] = first
        self._entries = entries
        return entries

    def refresh(self) -> None:
        """Forget what was discovered and loaded (after installing or removing a plugin in this process)."""
        self._entries = None
        self._loaded.clear()

    def _all(self) -> dict[str, Entry]:
        return {**self._discover(), **self._in_process}

    # ------------------------------------------------------------------ in-process registration
    def add(self, name: str, loader: Callable[[], T], *, distribution: str = IN_PROCESS) -> None:
        """Register ``loader`` (called once, when ``name`` is first asked for) in this process only."""
        existing = self._discover().get(name)
        if existing is not None and existing.builtin:
            raise PluginError(f"{self.kind} {name!r} is built into tangpoet and cannot be replaced")
        self._in_process[name] = Entry(self.kind, name, distribution, None, False, IN_PROCESS, loader)
        self._loaded.pop(name, None)

    def register(self, name: str) -> Callable[[Any], Any]:
        """Decorator: ``@DECODERS.register("my-decoder")`` registers the decorated object under ``name``."""

        def decorate(obj):
            self.add(name, lambda: obj)
            return obj

        return decorate

    def unregister(self, name: str) -> None:
        """Remove an in-process registration."""
        self._in_process.pop(name, None)
        self._loaded.pop(name, None)

    # ------------------------------------------------------------------ lookup
    def names(self) -> list[str]:
        return sorted(self._all())

    def __contains__(self, name: str) -> bool:
        return name in self._all()

    def resolve(self, name: str) -> str | None:
        """The registered name ``name`` stands for (itself, or by case / alias where enabled), or None."""
        entries = self._all()
        if name in entries or not self.with_aliases:
            return name if name in entries else None
        key = _alias_key(name)
        for known in entries:
            if _alias_key(known) == key:
                return known
        for known in sorted(entries):  # an alias: load the objects (only on a miss) and read their aliases
            if key in {_alias_key(a) for a in self.aliases(known)}:
                return known
        return None

    def aliases(self, name: str) -> tuple[str, ...]:
        """The aliases the object registered as ``name`` declares (empty if it declares none or fails to load)."""
        if not self.with_aliases:
            return ()
        try:
            obj = self.get(name)
        except (PluginError, UnknownNameError):
            return ()
        found = getattr(obj, "aliases", ()) or ()
        return tuple(str(a) for a in found) if isinstance(found, (tuple, list)) else ()

    def entry(self, name: str) -> Entry:
        entries = self._all()
        resolved = self.resolve(name)
        if resolved is None:
            # a retired entry is kept only to name its replacement: not offered (an error path, so loading is fine)
            known = [k for k in sorted(entries) if not (self.retires and self.status(k).startswith("retired"))]
            choices = known + [a for k in known for a in self.aliases(k)] if self.with_aliases else known
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}{did_you_mean(name, choices)}; available: {', '.join(known)}"
            )
        return entries[resolved]

    def entries(self) -> list[Entry]:
        return [self._all()[name] for name in self.names()]

    def get(self, name: str) -> T:
        entry = self.entry(name)
        name = entry.name
        if entry.rivals:
            both = " and ".join([entry.distribution, *entry.rivals])
            raise PluginError(
                f"{self.kind} {name!r} is claimed by more than one plugin ({both}): uninstall all but one"
            )
        if name not in self._loaded:
            try:
                self._loaded[name] = entry.load()
            except Exception as exc:  # a plugin's import error is its own; report it by name
                raise PluginError(
                    f"{self.kind} plugin {name!r} from {entry.distribution} failed to load: "
                    f"{type(exc).__name__}: {first_line(exc)}"
                ) from None
        return self._loaded[name]

    def status(self, name: str) -> str:
        """``"ok"``, ``"broken: <reason>"``, or ``"retired: <what replaces it>"`` for an entry kept only to point
        to its replacement (its object's ``retired`` attribute) — loads the entry point."""
        try:
            obj = self.get(name)
        except PluginError as exc:
            return f"broken: {exc}"
        retired = getattr(obj, "retired", None)
        return f"retired: {retired}" if isinstance(retired, str) and retired else "ok"


def _alias_key(name: str) -> str:
    return str(name).strip().lower().replace("_", "-")


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message ("" for none): how a plugin's failure is reported."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _loader(target: str) -> Callable[[], Any]:
    def load():
        return metadata.EntryPoint(name="", value=target, group="").load()

    return load
