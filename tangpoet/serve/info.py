"""``GET /info``: the model (what ``tangpoet info --json`` prints), the backend, what is installed, the forms."""

from __future__ import annotations

from typing import Any


def describe(model_path, *, backend: str) -> dict[str, Any]:
    from tangpoet import __version__
    from tangpoet.catalog import available_names
    from tangpoet.decoding.forms import FORMS
    from tangpoet.model_info import describe as describe_model

    installed: dict[str, list[str]] = {}
    for kind in ("decoder", "cell", "constraint"):
        try:
            installed[kind + "s"] = available_names(kind)
        except ValueError:  # an older catalog without this kind
            installed[kind + "s"] = []
    from tangpoet.decoding import DECODERS

    # a retired decoder only points to its replacement: not offered (the page's list, clients)
    installed["decoders"] = [n for n in installed["decoders"] if not DECODERS.status(n).startswith("retired:")]
    return {
        "version": __version__,
        "backend": backend,
        "model": describe_model(model_path),
        **installed,
        "forms": [{"name": f.name, "lines": f.lines, "chars": f.chars, "aliases": list(f.aliases)} for f in FORMS],
    }
