"""JAX's persistent compilation cache (tangpoet/compile_cache.py): where it lives, how it is turned off, and that a
JAX process started through tangpoet really writes compiled programs there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tangpoet.training import compile_cache


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    names = ["JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
             "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "JAX_COMPILATION_CACHE_MAX_SIZE"]
    for name in [*names, "TANGPOET_CACHE_DIR", compile_cache.DISABLE_ENV]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path


def test_cache_dir_follows_xdg_and_tangpoet_cache_dir(clean_env, monkeypatch):
    assert compile_cache.cache_dir() == clean_env / "xdg" / "tangpoet" / "jax"
    monkeypatch.setenv("TANGPOET_CACHE_DIR", str(clean_env / "own"))
    assert compile_cache.cache_dir() == clean_env / "own" / "jax"
    monkeypatch.delenv("TANGPOET_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME")
    if sys.platform.startswith("linux"):
        assert compile_cache.cache_dir() == Path.home() / ".cache" / "tangpoet" / "jax"


def test_settings_on_by_default_and_off_with_the_environment_variable(clean_env, monkeypatch):
    options = compile_cache.settings()
    assert options["JAX_COMPILATION_CACHE_DIR"] == str(clean_env / "xdg" / "tangpoet" / "jax")
    assert float(options["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]) < 1.0  # below JAX's default of 1 s
    assert int(options.get("JAX_COMPILATION_CACHE_MAX_SIZE", 1)) > 0
    for off in ("1", "true", "yes"):
        monkeypatch.setenv(compile_cache.DISABLE_ENV, off)
        assert compile_cache.disabled() and compile_cache.settings() == {}
    monkeypatch.setenv(compile_cache.DISABLE_ENV, "0")
    assert not compile_cache.disabled()


def test_only_jax_is_configured_and_the_users_choice_wins(clean_env, monkeypatch):
    assert compile_cache.configure("torch") is None
    assert compile_cache.configure("tensorflow") is None
    assert "JAX_COMPILATION_CACHE_DIR" not in os.environ
    monkeypatch.setenv(compile_cache.DISABLE_ENV, "1")
    assert compile_cache.configure("jax") is None
    assert "JAX_COMPILATION_CACHE_DIR" not in os.environ


def _jax_env(clean_env) -> dict[str, str]:
    """A JAX process's environment with the cache under ``clean_env``/xdg, on by default, no cache setting of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
    env.update(XDG_CACHE_HOME=str(clean_env / "xdg"), KERAS_BACKEND="jax", JAX_PLATFORMS="cpu",
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0")  # the user's setting wins: cache even tiny programs
    env.pop(compile_cache.DISABLE_ENV, None)
    env.pop("TANGPOET_CACHE_DIR", None)
    return env


def _run(env, code):
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.jax
def test_a_jax_process_started_through_tangpoet_writes_the_cache(clean_env):
    code = (
        "from tangpoet.backend import ensure_backend\n"
        "ensure_backend('jax')\n"
        "import jax, jax.numpy as jnp\n"
        "print(float(jax.jit(lambda x: jnp.tanh(x) * 3.0)(jnp.float32(0.5))))\n"
    )
    env = _jax_env(clean_env)
    done = _run(env, code)
    assert done.returncode == 0, done.stderr
    folder = clean_env / "xdg" / "tangpoet" / "jax"
    assert folder.is_dir() and any(folder.iterdir())

    env[compile_cache.DISABLE_ENV] = "1"
    env["XDG_CACHE_HOME"] = str(clean_env / "off")
    done = _run(env, code)
    assert done.returncode == 0, done.stderr
    assert not (clean_env / "off" / "tangpoet" / "jax").exists()


def test_repair_stamps_programs_a_killed_writer_left_without_one(tmp_path):
    (tmp_path / "jit_a-cache").write_bytes(b"program")
    (tmp_path / "jit_b-cache").write_bytes(b"program")
    (tmp_path / "jit_b-atime").write_bytes((123).to_bytes(8, "little"))
    assert compile_cache.repair(tmp_path) == 1
    assert int.from_bytes((tmp_path / "jit_a-atime").read_bytes(), "little") == 0  # the first to be evicted
    assert int.from_bytes((tmp_path / "jit_b-atime").read_bytes(), "little") == 123  # a stamp is never touched
    assert compile_cache.repair(tmp_path) == 0 and compile_cache.repair(tmp_path / "missing") == 0


@pytest.mark.jax
def test_a_program_without_its_stamp_does_not_stop_the_cache_growing(clean_env):
    pytest.importorskip("filelock")  # JAX bounds (and evicts from) the folder only with it
    folder = clean_env / "xdg" / "tangpoet" / "jax"
    folder.mkdir(parents=True)
    (folder / "jit_orphan-cache").write_bytes(b"left by a process killed between JAX's two writes")
    code = (
        "from tangpoet.backend import ensure_backend\n"
        "ensure_backend('jax')\n"
        "import jax, jax.numpy as jnp\n"
        "print(float(jax.jit(lambda x: jnp.sin(x) * 7.0)(jnp.float32(0.25))))\n"
    )
    env = _jax_env(clean_env)
    done = _run(env, code)
    assert done.returncode == 0, done.stderr
    assert "Error writing persistent compilation cache" not in done.stderr, done.stderr
    written = [p for p in folder.iterdir() if p.name.endswith("-cache") and p.name != "jit_orphan-cache"]
    assert written, sorted(p.name for p in folder.iterdir())
