"""The form registry, as data: shi forms (五言绝句 … 七言律诗, :mod:`.shi`) and ci tunes (词牌, :mod:`.tunes`, each with
its variants), looked up by name or alias with :func:`get_form`."""

from __future__ import annotations

from tangpoet.decoding.forms.shi import (
    COMMA,
    FORMS,
    FULL_STOP,
    LINE_END,
    SENTENCE_END,
    SHI_BY_NAME,
    Form,
)
from tangpoet.decoding.forms.tunes import Tune, find_tune, tune_names, tunes
from tangpoet.errors import UnknownNameError
from tangpoet.registry.base import did_you_mean

# Marks that end a verse of a ci (its 逗 included: 全宋词 writes 、 inside a sentence).
CI_VERSE_END = LINE_END + "、"

__all__ = [
    "CI_VERSE_END", "COMMA", "FORMS", "FULL_STOP", "LINE_END", "SENTENCE_END", "Form", "Tune", "find_tune",
    "form_names", "get_form", "shi_form_names", "tune_names", "tunes",
]


def shi_form_names() -> list[str]:
    """The shi forms' names, then their aliases."""
    return [form.name for form in FORMS] + [alias for form in FORMS for alias in form.aliases]


def form_names() -> list[str]:
    """Every form offered by name: the shi forms and their aliases, then the ci tunes (a tune's other names are
    accepted by :func:`get_form` too)."""
    return shi_form_names() + tune_names()


def get_form(name: str | Form, variant: int | None = None) -> Form:
    """The form called ``name`` (shi: full name or alias, Latin aliases ignore case and ``-``/``_``/spaces; ci: the
    tune's name or another of its names, ``variant`` 1 = its commonest shape, the default)."""
    if isinstance(name, Form):
        if variant is not None and name.is_ci and variant != name.variant:
            return get_form(name.name, variant)
        return name
    key = str(name).strip()
    shi = SHI_BY_NAME.get(key) or SHI_BY_NAME.get(key.lower().replace("-", "").replace("_", "").replace(" ", ""))
    if shi is not None:
        if variant not in (None, 1):
            raise UnknownNameError(f"{shi.name} has no variants (--variant is for ci tunes)")
        return shi
    tune = find_tune(key)
    if tune is not None:
        return tune.variant(variant)
    known = form_names()
    raise UnknownNameError(
        f"unknown form {name!r}{did_you_mean(key, known)}; available: {', '.join(shi_form_names())} "
        f"and {len(tune_names())} ci tunes (tangpoet forms lists them)"
    )
