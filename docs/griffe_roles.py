"""A griffe extension for the API reference (mkdocs.yml): tangpoet's docstrings use Sphinx roles
(:class:`~tangpoet.errors.UnknownNameError`, :meth:`Decoder.choose`); Markdown has none, so each is shown as inline
code with the name Sphinx would show (the last part after ``~``, or the explicit title of ``title <target>``)."""

from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj|const):`([^`]+)`")


def _shown(match: re.Match) -> str:
    target = match.group(1).strip()
    if "<" in target and target.endswith(">"):
        return f"`{target.split('<', 1)[0].strip()}`"
    if target.startswith("~"):
        return f"`{target[1:].rsplit('.', 1)[-1]}`"
    return f"`{target}`"


class SphinxRoles(griffe.Extension):
    def on_instance(self, *, obj, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(_shown, obj.docstring.value)
