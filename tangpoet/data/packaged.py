"""Data files shipped inside tangpoet's packages (the theme table, the couplet pairing table): found with
:mod:`importlib.resources`, so they load from a wheel, a zip or a checkout alike."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def load_packaged(package: str, name: str, load: Callable[[Path], T], error: type[Exception], what: str) -> T:
    """``load`` applied to ``package``'s ``data/name``; a missing file is ``error`` in one line naming ``what``."""
    path = resources.files(package).joinpath("data", name)
    with resources.as_file(path) as real:
        if not Path(real).is_file():
            raise error(f"the bundled {what} {name} is missing: reinstall tangpoet")
        return load(Path(real))
