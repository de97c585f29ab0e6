"""JAX's persistent compilation cache, on by default, in a folder under the user's cache directory.

XLA compiles every train step once per padded batch length and the decoder's step once per process; with the cache,
the second run of ``tangpoet fit`` / ``tangpoet write`` loads those programs from disk instead of compiling them
again. :func:`configure` only sets environment variables (JAX reads them when it is imported), so it costs nothing
on the other backends and nothing before JAX is imported; if JAX is already imported it updates ``jax.config``.
Settings the user made (``JAX_COMPILATION_CACHE_DIR`` and friends) win.

- folder: ``$TANGPOET_CACHE_DIR/jax``, else ``$XDG_CACHE_HOME/tangpoet/jax``, else the platform's cache folder
  (``~/.cache``, ``~/Library/Caches``, ``%LOCALAPPDATA%``) ``/tangpoet/jax``;
- ``TANGPOET_NO_COMPILE_CACHE=1`` turns it off;
- programs that took at least :data:`MIN_COMPILE_SECONDS` to compile are cached (JAX's default, 1 s, would skip the
  decoder's step and most train steps of a small model on a fast machine); the folder is bounded to
  :data:`MAX_BYTES` (least recently used entries go first) where the ``filelock`` package is installed (JAX
  needs it for that; without it the folder is not bounded);
- a program whose writer was killed between JAX's two files (the program, then its ``-atime`` stamp) would make every
  later write into the bounded folder fail (JAX reads every stamp before it evicts: ``Error writing persistent
  compilation cache entry … -atime``), so the cache would never grow again: :func:`repair` gives such a program the
  oldest stamp (the first to be evicted) before JAX starts.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

DISABLE_ENV = "TANGPOET_NO_COMPILE_CACHE"
MIN_COMPILE_SECONDS = 0.1
MAX_BYTES = 1 << 30  # 1 GiB

_FALSE = {"", "0", "false", "no", "off"}


def disabled() -> bool:
    return os.environ.get(DISABLE_ENV, "").strip().lower() not in _FALSE


def cache_dir() -> Path:
    """The folder for JAX's compiled programs (not created here)."""
    own = os.environ.get("TANGPOET_CACHE_DIR")
    if own:
        return Path(own).expanduser() / "jax"
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        base = Path(xdg).expanduser()
    elif sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path.home() / ".cache"
    return base / "tangpoet" / "jax"


def settings() -> dict[str, str]:
    """The JAX options :func:`configure` sets, as environment variables (empty when the cache is off)."""
    if disabled():
        return {}
    options = {
        "JAX_COMPILATION_CACHE_DIR": str(cache_dir()),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": str(MIN_COMPILE_SECONDS),
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }
    if importlib.util.find_spec("filelock") is not None:  # JAX needs it to bound the folder (else: no cache at all)
        options["JAX_COMPILATION_CACHE_MAX_SIZE"] = str(MAX_BYTES)
    return options


def configure(backend: str) -> Path | None:
    """Turn the cache on for ``backend`` (JAX only); return its folder, or ``None`` when off or not JAX."""
    if backend != "jax":
        return None
    options = settings()
    if not options:
        return None
    jax_imported = "jax" in sys.modules
    for name, value in options.items():
        if name in os.environ:  # the user's own choice wins
            continue
        os.environ[name] = value
        if jax_imported:  # too late for the environment: JAX read it on import
            try:
                import jax

                kind = float if "SECS" in name else int if name != "JAX_COMPILATION_CACHE_DIR" else str
                jax.config.update(name.lower(), kind(value))
            except Exception:  # an old or unusual JAX: run without the cache rather than fail
                return None
    folder = Path(os.environ["JAX_COMPILATION_CACHE_DIR"])
    if os.environ.get("JAX_COMPILATION_CACHE_MAX_SIZE", "-1") not in ("-1", ""):  # bounded: JAX reads every stamp
        repair(folder)
    return folder


CACHE_SUFFIX, ATIME_SUFFIX = "-cache", "-atime"  # jax/_src/lru_cache.py's two files per program


def repair(folder: Path) -> int:
    """Give every program in ``folder`` that lacks its ``-atime`` stamp the oldest one (0): JAX's eviction reads every
    stamp and fails without one. Returns how many were repaired; a folder that cannot be read is left alone."""
    try:
        names = set(os.listdir(folder))
    except OSError:
        return 0
    repaired = 0
    for name in names:
        if name.endswith(CACHE_SUFFIX) and name[: -len(CACHE_SUFFIX)] + ATIME_SUFFIX not in names:
            stamp = folder / (name[: -len(CACHE_SUFFIX)] + ATIME_SUFFIX)
            try:
                with open(stamp, "xb") as f:  # "x": a writer that finishes meanwhile keeps its own stamp
                    f.write((0).to_bytes(8, "little"))
                repaired += 1
            except OSError:
                pass
    return repaired
