"""Form and tune names typed in traditional characters (菩薩蠻, 七言絕句, 浣溪紗): read as their simplified names, with
OpenCC (:mod:`tangpoet.data.script`, the ``tangpoet[script]`` extra). Without OpenCC a name is taken as typed: the
simplified names and aliases still work, a traditional one is an unknown name."""

from __future__ import annotations

from functools import lru_cache


def _opencc():
    from tangpoet.data import script

    return script if script.available() else None


@lru_cache(maxsize=256)
def simplified(name: str) -> str:
    """``name`` in simplified characters: the form or tune name whose traditional spelling it is (雁後歸: 雁后归,
    which OpenCC alone would not give back), else OpenCC's reading; ``name`` itself without OpenCC, or when it has no
    traditional character."""
    if not name or name.isascii():
        return name
    known = traditional_names().get(name)
    if known is not None:
        return known
    script = _opencc()
    return script.convert(name, script.SIMPLIFIED) if script is not None else name


@lru_cache(maxsize=1)
def traditional_names() -> dict[str, str]:
    """Each form and tune name's traditional spelling (OpenCC ``s2t``) that differs from every name, mapped to the
    name, in the order of the names (shi forms and aliases, tunes, their other names); empty without OpenCC."""
    from tangpoet.decoding.forms.shi import FORMS
    from tangpoet.decoding.forms.tunes import tune_aliases, tune_names

    names = [f.name for f in FORMS] + [a for f in FORMS for a in f.aliases] + tune_names() + tune_aliases()
    script = _opencc()
    if script is None:
        return {}
    converted = script.convert("\n".join(names), script.TRADITIONAL).split("\n")
    if len(converted) != len(names):  # a phrase spanning two lines: one name at a time
        converted = [script.convert(name, script.TRADITIONAL) for name in names]
    known = set(names)
    out: dict[str, str] = {}
    for name, spelled in zip(names, converted):
        if spelled not in known:
            out.setdefault(spelled, name)
    return out
