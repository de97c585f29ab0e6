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
from tangpoet.decoding.forms.names import simplified, traditional_names
from tangpoet.decoding.forms.tunes import Tune, tune_aliases, tune_by_name, tune_names, tunes
from tangpoet.errors import UnknownNameError
from tangpoet.registry.base import did_you_mean

# Marks that end a verse of a ci (its 逗 included: 全宋词 writes 、 inside a sentence).
CI_VERSE_END = LINE_END + "、"

__all__ = [
    "CI_VERSE_END", "COMMA", "FORMS", "FULL_STOP", "LINE_END", "SENTENCE_END", "Form", "Tune", "find_tune",
    "form_names", "get_form", "shi_form_names", "tune_aliases", "tune_names", "tunes",
]


def shi_form_names() -> list[str]:
    """The shi forms' names, then their aliases."""
    return [form.name for form in FORMS] + [alias for form in FORMS for alias in form.aliases]


def form_names(traditional: bool = False) -> list[str]:
    """Every form offered by name: the shi forms and their aliases, the ci tunes, their other names (浣溪纱 …) — the
    names the CLI completes — and with ``traditional`` (and OpenCC) the traditional spelling of each (七言絕句,
    菩薩蠻 …): every name :func:`get_form` takes as written, which the server's schema enumerates. (:func:`get_form`
    also takes a Latin alias in any case and a traditional spelling OpenCC reads as one of these.)"""
    names = shi_form_names() + tune_names() + tune_aliases()
    return names + list(traditional_names()) if traditional else names


def find_tune(name: str) -> Tune | None:
    """The tune called ``name`` (its name or one of its other names, in simplified or — with OpenCC — traditional
    characters: 菩薩蠻 is 菩萨蛮), or None."""
    key = str(name).strip()
    tune = tune_by_name(key)
    return tune if tune is not None else tune_by_name(simplified(key))


def _lookup(key: str) -> Form | Tune | None:
    shi = SHI_BY_NAME.get(key) or SHI_BY_NAME.get(key.lower().replace("-", "").replace("_", "").replace(" ", ""))
    return shi if shi is not None else find_tune(key)


def get_form(name: str | Form, variant: int | None = None) -> Form:
    """The form called ``name`` (shi: full name or alias, Latin aliases ignore case and ``-``/``_``/spaces; ci: the
    tune's name or another of its names, ``variant`` 1 = its commonest shape, the default; in simplified or — with
    OpenCC — traditional characters). The one lookup of a form name: the CLI, the library and the server all use it."""
    if isinstance(name, Form):
        if variant is not None and name.is_ci and variant != name.variant:
            return get_form(name.name, variant)
        return name
    key = str(name).strip()
    found = _lookup(key)
    if found is None and simplified(key) != key:  # 七言絕句: 七言绝句 (a tune's is read by find_tune itself)
        found = SHI_BY_NAME.get(simplified(key))
    if isinstance(found, Form):
        if variant not in (None, 1):
            raise UnknownNameError(f"{found.name} has no variants (--variant is for ci tunes)")
        return found
    if found is not None:
        return found.variant(variant)
    raise UnknownNameError(
        f"unknown form {name!r}{_close_name(simplified(key))}; available: "
        f"{', '.join(shi_form_names())} and {len(tune_names())} ci tunes (tangpoet forms lists them)"
    )


def _close_name(key: str) -> str:
    """``" (did you mean '浣溪沙'?)"``: a form's or tune's own name when one is close, else a tune's other name."""
    return did_you_mean(key, shi_form_names() + tune_names()) or did_you_mean(key, tune_aliases())
