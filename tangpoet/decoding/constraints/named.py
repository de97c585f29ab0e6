"""Constraints by name: the ``tangpoet.constraints`` registry and ``NAME[:opt=val,...]`` specs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tangpoet.catalog import BUILTIN_CONSTRAINTS, CONSTRAINT_GROUP
from tangpoet.decoding.constraints.base import Constraint
from tangpoet.errors import ConstraintError
from tangpoet.registry import PluginError, Registry

# Built-ins come from tangpoet's own entry points (the path plugins take); the fallback serves a source tree.
CONSTRAINTS: Registry = Registry("constraint", CONSTRAINT_GROUP, fallback=BUILTIN_CONSTRAINTS, aliases=True)

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
    cls = CONSTRAINTS.get(name)
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
