"""Choose the Keras backend before Keras is imported.

Order: an explicit choice (the CLI's ``--backend``) > ``KERAS_BACKEND`` > ``keras.json`` (in ``$KERAS_HOME`` or
``~/.keras``) > the first installed of jax, tensorflow, torch. Keras reads ``KERAS_BACKEND`` once, when it is first
imported, so every tangpoet module that needs Keras calls :func:`ensure_backend` before ``import keras``.

An explicit choice naming a backend that is not installed is an error. ``keras.json`` is not a choice the user
necessarily made: Keras writes it on its first import with its own default, ``"tensorflow"``, whatever backend is
in use (and one ``~/.keras`` is shared by every virtual environment of the user). So a ``keras.json`` naming a
backend that is not installed here falls back to the first installed one, with one note on stderr; and where no
``keras.json`` exists yet, :func:`ensure_backend` writes it first, naming the first installed backend, so that Keras
does not write ``"tensorflow"`` into it on a machine without TensorFlow. An existing ``keras.json`` is never changed.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys

from tangpoet.training import compile_cache
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


def keras_json_path() -> str:
    """Where Keras reads (and on first import writes) ``keras.json``: Keras' own rule (keras/src/backend/config.py)."""
    home = os.environ.get("KERAS_HOME")
    if not home:
        base = os.path.expanduser("~")
        if not os.access(base, os.W_OK):
            base = "/tmp"
        home = os.path.join(base, ".keras")
    return os.path.expanduser(os.path.join(home, "keras.json"))


def _keras_json_backend() -> str | None:
    try:
        with open(keras_json_path(), encoding="utf-8") as handle:
            value = json.load(handle).get("backend")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) and value else None


def _first_installed() -> str:
    for name in BACKENDS:
        if is_installed(name):
            return name
    raise BackendError(
        "no Keras backend is installed: pip install 'tangpoet[jax]' (or [tensorflow] / [torch])"
    )


def _choose(flag: str | None) -> tuple[str, str, str | None]:
    """``(backend, where the choice came from, a note for the user or None)``."""
    for value, source in ((flag, "--backend"), (os.environ.get("KERAS_BACKEND"), "KERAS_BACKEND")):
        if value:
            name = normalize(value)
            if not is_installed(name):
                raise BackendError(
                    f"backend {name!r} (from {source}) is not installed: pip install 'tangpoet[{name}]'"
                )
            return name, source, None
    configured = _keras_json_backend()
    if configured:
        try:
            name = normalize(configured)
        except BackendError:
            name, why = None, "which is not a Keras backend"
        else:
            why = "which is not installed"
        if name is not None and is_installed(name):
            return name, "keras.json", None
        chosen = _first_installed()
        note = (
            f"note: using backend {chosen!r} (the first installed): {keras_json_path()} names {configured!r}, {why}"
            " (choose with --backend, KERAS_BACKEND or by editing that file)"
        )
        return chosen, "first installed", note
    return _first_installed(), "first installed", None


def resolve(flag: str | None = None) -> tuple[str, str]:
    """Return ``(backend, where the choice came from)`` without importing anything heavy."""
    name, source, _ = _choose(flag)
    return name, source


def _write_keras_json() -> None:
    """Write ``keras.json`` naming the first installed backend where none exists yet (never replace one).

    Keras would otherwise write its default, ``"tensorflow"``, on its first import. Written beside and linked into
    place, so a concurrent writer (another tangpoet, Keras itself) never sees half a file and is never overwritten;
    a home that cannot be written is left as it is (Keras then writes nothing either).
    """
    path = keras_json_path()
    if os.path.exists(path):
        return
    try:
        default = _first_installed()
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        config = {"floatx": "float32", "epsilon": 1e-07, "backend": default, "image_data_format": "channels_last"}
        tmp = os.path.join(folder, f".keras.json.{os.getpid()}.tmp")
        try:
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(config, indent=4))
            os.link(tmp, path)  # fails if the file appeared meanwhile: the one already there wins
        finally:
            os.unlink(tmp)
    except (OSError, BackendError):
        pass


_noted = False


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
    name, _, note = _choose(flag)
    global _noted
    if note and not _noted:
        _noted = True
        print(note, file=sys.stderr)
    _write_keras_json()
    os.environ["KERAS_BACKEND"] = name
    compile_cache.configure(name)  # JAX: the persistent compilation cache (environment variables only)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter is not the user's concern
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # JAX: do not grab the whole GPU
    # torch (Linux): CPU tensors of 2 MB and more on transparent huge pages, where the kernel allows it (madvise).
    # Training allocates logits-sized tensors (tens of MB) every step; faulting them in 4 KB pages cost 10–15 % of a
    # step here (docs/benchmarks.md, training speed). Read by torch at its first large allocation; THP_MEM_ALLOC_ENABLE=0 keeps
    # torch's default.
    os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
    return name

