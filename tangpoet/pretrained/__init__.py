"""The bundled default model, shipped as package data."""

from __future__ import annotations

from pathlib import Path

from tangpoet.errors import ModelFileError

DEFAULT_MODEL = Path(__file__).with_name("tang.keras")


def default_model_path() -> Path:
    """Path of the bundled model; a clear error while none is bundled."""
    if not DEFAULT_MODEL.is_file():
        raise ModelFileError("no bundled model is installed yet: pass --model PATH (train one with `tangpoet fit`)")
    return DEFAULT_MODEL
