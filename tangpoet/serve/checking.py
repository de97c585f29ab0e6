"""``POST /check``: the marks and findings of ``tangpoet check`` for one poem — the form (detected from its shape
unless given), per line the 平/仄 of each character and the rhyme group at its end, and every rule it breaks.

Built on the constraint contract (``tangpoet.decoding.constraints``): every installed constraint's ``check()``, and
the first ``annotate()`` that gives marks (the prosody plugin's). Available only when some installed constraint
annotates (otherwise ``/check`` answers 404 and the page shows no marks).
"""

from __future__ import annotations

from dataclasses import asdict
from functools import lru_cache
from typing import Any


def _constraints():
    try:
        from tangpoet.decoding.constraints import CONSTRAINTS, Constraint
    except ImportError:  # an older library without named constraints
        return None, []
    return Constraint, CONSTRAINTS


@lru_cache(maxsize=1)
def _annotators() -> tuple[str, ...]:
    base, registry = _constraints()
    if base is None:
        return ()
    names = []
    for name in registry.names():
        try:
            cls = registry.get(name)
        except Exception:  # noqa: BLE001 - a broken plugin is not offered
            continue
        if isinstance(cls, type) and issubclass(cls, base) and cls.annotate is not base.annotate:
            names.append(name)
    return tuple(names)


_SAMPLE = "床前明月光，疑是地上霜。举头望明月，低头思故乡。"


@lru_cache(maxsize=1)
def available() -> bool:
    """Some installed constraint annotates, and works (a plugin whose own dependency is missing does not count)."""
    from tangpoet.decoding.constraints import detect_form

    for name in _annotators():
        constraint = _instance(name)
        try:
            if constraint is not None and constraint.annotate(_SAMPLE, detect_form(_SAMPLE)):
                return True
        except Exception:  # noqa: BLE001 - e.g. the plugin's data package is not installed
            continue
    return False


def _instance(name: str):
    from tangpoet.decoding.constraints import get_constraint

    try:
        return get_constraint(name)
    except Exception:  # noqa: BLE001 - a constraint that needs options is skipped
        return None


def check(text: str, form_name: str | None = None) -> dict[str, Any]:
    """Marks and violations for ``text``; a bad form name or unreadable text raises a one-line TangpoetError."""
    from tangpoet.decoding.constraints import CONSTRAINTS, check_text, detect_form
    from tangpoet.decoding.forms import get_form

    text = check_text("text", text).strip()
    form = get_form(form_name) if form_name else detect_form(text)
    marks = None
    for name in _annotators():
        constraint = _instance(name)
        if constraint is not None:
            marks = constraint.annotate(text, form)
            if marks:
                break
    violations, seen = [], set()
    for name in CONSTRAINTS.names():
        constraint = _instance(name)
        if constraint is None or (getattr(constraint, "needs_form", False) and form is None):
            continue
        try:
            found = constraint.check(text, form)
        except Exception:  # noqa: BLE001 - one rule failing does not hide the others
            continue
        for v in found:  # one finding once, even if two rule families (e.g. regulated and tones) both report it
            key = (v.rule, v.line, v.col, v.message)
            if key not in seen:
                seen.add(key)
                violations.append({"constraint": name, **asdict(v)})
    return {"form": form.name if form else None, "marks": marks, "violations": violations, "ok": not violations}
