"""Simplified and traditional characters, converted with OpenCC (the ``opencc`` package: ``tangpoet[script]``).

* :func:`convert` — a text in the other script (OpenCC ``s2t`` / ``t2s``, phrase-aware);
* :func:`detect` — which script a set of characters is in (a model file that does not record its script);
* :func:`to_vocabulary` — a prompt typed in either script, its characters the model does not know converted to
  forms it does (so ``--begin 風`` works with a simplified model and ``--begin 风`` with a traditional one).

OpenCC is imported only when a conversion is needed; without it :func:`convert` is a one-line
:class:`~tangpoet.errors.ScriptError` naming the extra to install, and :func:`detect` says ``"unknown"``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from tangpoet.errors import ScriptError

SIMPLIFIED = "simplified"
TRADITIONAL = "traditional"
SCRIPTS = (SIMPLIFIED, TRADITIONAL)
KEEP = "keep"
UNKNOWN = "unknown"
MIXED = "mixed"
CHOICES = (KEEP, SIMPLIFIED, TRADITIONAL)  # fit --script
_CONFIG = {SIMPLIFIED: "t2s", TRADITIONAL: "s2t"}  # OpenCC's configuration for a conversion *to* each script
INSTALL_HINT = "pip install 'tangpoet[script]'"


@functools.lru_cache(maxsize=None)
def _converter(config: str):
    try:
        from opencc import OpenCC
    except ImportError:
        raise ScriptError(
            f"converting between simplified and traditional characters needs OpenCC: {INSTALL_HINT}"
        ) from None
    return OpenCC(config)


def available() -> bool:
    """Whether OpenCC can be imported."""
    try:
        _converter("t2s")
    except ScriptError:
        return False
    return True


def check_script(script: str, *, keep: bool = False) -> str:
    """``script`` if it names a script (or ``keep`` when allowed), else a one-line :class:`ScriptError`."""
    choices = CHOICES if keep else SCRIPTS
    if script not in choices:
        raise ScriptError(f"unknown script {script!r}: choose {', '.join(choices[:-1])} or {choices[-1]}")
    return script


def convert(text: str, to: str) -> str:
    """``text`` in the script ``to`` (``"simplified"`` or ``"traditional"``)."""
    converter = _converter(_CONFIG[check_script(to)])  # OpenCC missing: a one-line error even for empty text
    return converter.convert(text) if text else text


def _per_character(chars: list[str], to: str) -> list[str]:
    """Each character converted on its own (one per line, so no phrase spans two)."""
    converted = convert("\n".join(chars), to).split("\n")
    return converted if len(converted) == len(chars) else [convert(c, to) for c in chars]


def detect(chars: Iterable[str]) -> str:
    """``"simplified"``, ``"traditional"``, ``"mixed"`` or ``"unknown"`` (no OpenCC, or no character that differs
    between the scripts): the script whose own forms outnumber the other's four to one."""
    chars = [c for c in dict.fromkeys(chars) if isinstance(c, str) and len(c) == 1 and not c.isascii()]
    if not chars or not available():
        return UNKNOWN
    traditional_only = sum(a != b for a, b in zip(chars, _per_character(chars, SIMPLIFIED)))
    simplified_only = sum(a != b for a, b in zip(chars, _per_character(chars, TRADITIONAL)))
    if traditional_only == simplified_only == 0:
        return UNKNOWN
    if traditional_only >= 4 * simplified_only:
        return TRADITIONAL
    if simplified_only >= 4 * traditional_only:
        return SIMPLIFIED
    return MIXED


def to_vocabulary(text: str, known, script: str | None = None) -> str:
    """``text`` with each character the vocabulary does not ``known`` replaced by its form in the other script when
    the vocabulary knows that one. Characters the model knows stay as typed; without OpenCC, or when nothing is
    unknown, ``text`` is returned unchanged (the caller reports what is still unknown)."""
    if not text or all(char in known for char in text) or not available():
        return text
    order = [script] if script in SCRIPTS else []
    order += [s for s in SCRIPTS if s not in order]
    candidates = [list(convert(text, to)) for to in order]
    out = []
    for i, char in enumerate(text):
        if char not in known:
            for converted in candidates:
                if len(converted) == len(text) and converted[i] in known:
                    char = converted[i]
                    break
        out.append(char)
    return "".join(out)
