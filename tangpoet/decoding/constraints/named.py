"""Constraints by name: the ``tangpoet.constraints`` registry and ``NAME[:opt=val,...]`` specs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tangpoet.registry import CONSTRAINTS  # noqa: F401 - the one constraint registry, re-exported
from tangpoet.decoding.constraints.base import Constraint
from tangpoet.errors import ConstraintError, UnknownNameError
from tangpoet.registry.base import PluginError

# Names (and aliases) of constraints that come with a plugin package tangpoet knows: an unknown one says what to install.
PLUGIN_CONSTRAINTS = {
    name: "tangpoet-rhyme (pip install tangpoet-rhyme, or pip install -e plugins/tangpoet-rhyme in a source tree)"
    for name in ("regulated", "格律", "gelv", "rhyme", "押韵", "yayun", "tones", "平仄", "pingze")
}

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"tones:strict"`` → ``("tones", {"strict": True})``; ``"regulated:pattern=ping,strict=no"`` →
    ``("regulated", {"pattern": "ping", "strict": False})``. Option names take ``-`` or ``_``."""
    text = str(spec).strip()
    name, _, rest = text.partition(":")
    name = name.strip()
    if not name:
        raise ConstraintError(f"a constraint spec needs a name, e.g. regulated or tones:strict, got {spec!r}")
    options: dict[str, Any] = {}
    for part in rest.split(",") if rest.strip() else []:
        key, eq, value = part.partition("=")
        key = key.strip().replace("-", "_")
        if not key:
            raise ConstraintError(f"empty option in constraint spec {spec!r} (write NAME:opt=val,opt2)")
        if not eq:
            options[key] = True
        else:
            value = value.strip()
            options[key] = True if value.lower() in _TRUE else False if value.lower() in _FALSE else value
    return name, options


def constraint_class(name: str) -> type[Constraint]:
    try:
        cls = CONSTRAINTS.get(name)
    except UnknownNameError as exc:
        package = PLUGIN_CONSTRAINTS.get(str(name).strip().lower())
        if package is None:
            raise
        raise UnknownNameError(f"{exc}; {name!r} comes with the prosody plugin {package}") from None
    if not (isinstance(cls, type) and issubclass(cls, Constraint)):
        raise PluginError(
            f"constraint plugin {name!r} is not a tangpoet Constraint class (got {type(cls).__name__})"
        )
    return cls


def get_constraint(name: str, options: Mapping[str, Any] | None = None) -> Constraint:
    """An instance of the constraint registered as ``name`` (or an alias), built with ``options``."""
    cls = constraint_class(name)
    try:
        return cls(**dict(options or {}))
    except (ConstraintError, PluginError):
        raise
    except TypeError as exc:
        raise ConstraintError(f"constraint {cls.name!r}: {exc}") from None


def to_constraint(item: Any) -> Constraint:
    """A Constraint from an instance, a ``(name, options)`` pair, or a ``NAME[:opt=val]`` string."""
    if isinstance(item, Constraint):
        return item
    if isinstance(item, str):
        return get_constraint(*parse_spec(item))
    if isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str):
        return get_constraint(item[0], item[1] or {})
    raise ConstraintError(f"not a constraint: {item!r} (give a name, (name, options) or a Constraint)")
