"""Old import paths that keep working after the layout moved modules into folders.

Before 0.2 the data path lived in modules side by side at the top level (``tangpoet.vocab``, ``tangpoet.cells``,
``tangpoet.catalog``, …). Those paths were documented and plugin packages import them, so each still imports — it
*is* the module at its new place (the same module object, not a copy), found by a small import hook that
``import tangpoet`` installs. New code imports the new paths (:data:`MOVED`).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

# old path -> new path; the new module is returned for the old name
MOVED: dict[str, str] = {
    "tangpoet.corpus": "tangpoet.data.corpus",
    "tangpoet.script": "tangpoet.data.script",
    "tangpoet.vocab": "tangpoet.data.vocab",
    "tangpoet.split": "tangpoet.data.split",
    "tangpoet.batching": "tangpoet.data.batching",
    "tangpoet.cells": "tangpoet.model.cells",
    "tangpoet.model_info": "tangpoet.model.info",
    "tangpoet.finetune": "tangpoet.training.finetune",
    "tangpoet.distribute": "tangpoet.training.distribute",
    "tangpoet.progress": "tangpoet.training.progress",
    "tangpoet.resume_check": "tangpoet.training.resume_check",
    "tangpoet.output_guard": "tangpoet.training.output_guard",
    "tangpoet.compile_cache": "tangpoet.training.compile_cache",
    "tangpoet.interrupts": "tangpoet.training.interrupts",
    "tangpoet.catalog": "tangpoet.registry",
    "tangpoet.cancellation": "tangpoet.decoding.cancellation",
}


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old path of :data:`MOVED` and loads it as the module at its new path."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in MOVED:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module):
        pass  # already executed under its new name


def install() -> None:
    """Put the finder on ``sys.meta_path`` (once)."""
    if not any(isinstance(finder, _Alias) for finder in sys.meta_path):
        sys.meta_path.append(_Alias())


def lazy_exports(package: str, source: str, names: tuple[str, ...]):
    """``(__getattr__, __dir__)`` for ``package``: ``names`` are read from the module ``source`` on first use (PEP 562),
    so importing the package's light modules does not import ``source`` (and Keras with it)."""

    def __getattr__(name: str):
        if name in names:
            return getattr(importlib.import_module(source), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__
