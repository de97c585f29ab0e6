"""Choose the Keras backend before Keras is imported.

Order: an explicit choice (the CLI's ``--backend``) > ``KERAS_BACKEND`` > ``keras.json`` (in ``$KERAS_HOME`` or
``~/.keras``) > the first installed of jax, tensorflow, torch. Keras reads ``KERAS_BACKEND`` once, when it is first
imported, so every tangpoet module that needs Keras calls :func:`ensure_backend` before ``import keras``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys

from tangpoet.errors import BackendError

BACKENDS = ("jax", "tensorflow", "torch")
# The module that must be importable for each backend, and the extra that installs it.
_MODULES = {"jax": "jax", "tensorflow": "tensorflow", "torch": "torch"}
_ALIASES = {"tf": "tensorflow", "pytorch": "torch"}


def normalize(name: str) -> str:
    """Return the canonical backend name for ``name`` or raise :class:`BackendError`."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
    return key


def is_installed(name: str) -> bool:
    return importlib.util.find_spec(_MODULES[name]) is not None


def _keras_json_backend() -> str | None:
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    path = os.path.join(home, "keras.json")
    try:
        with open(path, encoding="utf-8") as handle:
            value = json.load(handle).get("backend")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and value else None


def resolve(flag: str | None = None) -> tuple[str, str]:
    """Return ``(backend, where the choice came from)`` without importing anything heavy."""
    for value, source in (
        (flag, "--backend"),
        (os.environ.get("KERAS_BACKEND"), "KERAS_BACKEND"),
        (_keras_json_backend(), "keras.json"),
    ):
        if value:
            name = normalize(value)
            if not is_installed(name):
                raise BackendError(
                    f"backend {name!r} (from {source}) is not installed: pip install 'tangpoet[{name}]'"
                )
            return name, source
    for name in BACKENDS:
        if is_installed(name):
            return name, "first installed"
    raise BackendError(
        "no Keras backend is installed: pip install 'tangpoet[jax]' (or [tensorflow] / [torch])"
    )


def ensure_backend(flag: str | None = None) -> str:
    """Choose the backend and export it as ``KERAS_BACKEND``; return its name.

    If Keras is already imported, its backend is final: asking for a different one is an error.
    """
    keras_module = sys.modules.get("keras")
    if keras_module is not None and hasattr(keras_module, "backend"):
        current = keras_module.backend.backend()
        if flag and normalize(flag) != current:
            raise BackendError(
                f"Keras is already running on {current!r} in this process; cannot switch to {flag!r}"
            )
        return current
    name, _ = resolve(flag)
    os.environ["KERAS_BACKEND"] = name
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter is not the user's concern
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # JAX: do not grab the whole GPU
    return name

