"""What the quality benchmarks share: a poem's verses, and the outside judge of regulated verse (pingshui-rhyme).

``poem_quality.py`` and ``reader_quality.py`` both import from here, so neither imports the other's module back
(no import circle).
"""

from __future__ import annotations

import sys

VERSE_END = "，。？！；"


def verses(text: str) -> list[str]:
    out, current = [], []
    for char in text:
        if char in VERSE_END:
            out.append("".join(current))
            current = []
        else:
            current.append(char)
    if current:
        out.append("".join(current))
    return out


def outside_checker():
    """pingshui-rhyme's ``PoemStructureChecker`` as ``text -> (rhyme ok, meter ok)`` on the text in traditional
    characters, or None where pingshui-rhyme / OpenCC are missing. pingshui-rhyme's modules import
    ``pkg_resources`` (gone from setuptools >= 81): a two-line stand-in serves its one call where it is missing."""
    import os
    import types

    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        shim = types.ModuleType("pkg_resources")
        shim.resource_filename = lambda module, resource: os.path.join(
            os.path.dirname(sys.modules[module].__file__), resource)
        sys.modules["pkg_resources"] = shim
    try:
        from opencc import OpenCC
        from pingshui_rhyme import PoemStructureChecker
    except ImportError:
        return None
    checker, to_traditional = PoemStructureChecker(), OpenCC("s2t").convert

    def check(text: str) -> tuple[bool, bool]:
        traditional = to_traditional(text)
        return bool(checker.check_poem_rhyming(traditional)[0]), bool(checker.check_poem_pingze_meter(traditional)[0])

    return check
