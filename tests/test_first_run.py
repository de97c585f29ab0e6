"""The README's first command, run as a new user runs it: a fresh HOME, no KERAS_BACKEND, no KERAS_HOME, twice in a
row (issue 11, defect 1). On its first import Keras writes ~/.keras/keras.json naming "tensorflow" whatever backend
is in use; before the fix every later command on a jax- or torch-only install failed on that file.

Each tox env installs exactly one backend, so "a backend that is not installed" is a real one here, not a simulated
one; where all three are installed the tests that need a missing backend skip.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tangpoet import backend as backend_module

# what a new user's shell does not set (tox sets both; the suite's conftest exports KERAS_BACKEND too)
_NOT_A_USERS = ("KERAS_BACKEND", "KERAS_HOME")


def _tangpoet() -> list[str]:
    script = Path(sys.executable).with_name("tangpoet")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tangpoet"]


def _user_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _NOT_A_USERS}
    env["HOME"] = str(home)
    return env


def _run(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*_tangpoet(), *args], capture_output=True, text=True, env=_user_env(home), timeout=600, cwd=home
    )


def _missing_backend() -> str:
    for name in backend_module.BACKENDS:
        if not backend_module.is_installed(name):
            return name
    pytest.skip("every backend is installed here: none is missing")


def _poem_ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.startswith("山"), result.stdout


def test_write_twice_in_a_row_with_a_fresh_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    first = _run(home, "write", "--begin", "山", "--seed", "1")
    _poem_ok(first)
    keras_json = home / ".keras" / "keras.json"
    default = backend_module._first_installed()
    # tangpoet wrote it before Keras could write its own default ("tensorflow"), naming the backend it used
    assert json.loads(keras_json.read_text())["backend"] == default
    second = _run(home, "write", "--begin", "山", "--seed", "1")
    _poem_ok(second)
    assert second.stdout == first.stdout  # same backend, same seed: the same poem
    assert "note:" not in first.stderr + second.stderr  # nothing to explain: the file names what is installed


def test_keras_json_naming_a_missing_backend_falls_back_with_one_note(tmp_path):
    missing = _missing_backend()
    home = tmp_path / "home"
    (home / ".keras").mkdir(parents=True)
    keras_json = home / ".keras" / "keras.json"
    # what Keras writes on its first import (its default backend), e.g. from another program or virtualenv
    keras_json.write_text(json.dumps({"floatx": "float32", "epsilon": 1e-07, "backend": missing,
                                      "image_data_format": "channels_last"}, indent=4))
    before = keras_json.read_bytes()
    for _ in range(2):
        result = _run(home, "write", "--begin", "山", "--seed", "1")
        _poem_ok(result)
        notes = [line for line in result.stderr.splitlines() if line.startswith("note:")]
        used = backend_module._first_installed()
        assert notes == [
            (
                f"note: using backend {used!r} (the first installed): {keras_json} names {missing!r}, which is not"
                " installed (choose with --backend, KERAS_BACKEND or by editing that file)"
            )
        ], result.stderr
    assert keras_json.read_bytes() == before  # the user's file is theirs: never rewritten


@pytest.mark.parametrize("how", ["--backend", "KERAS_BACKEND"])
def test_an_explicit_missing_backend_is_still_one_line(tmp_path, how):
    missing = _missing_backend()
    home = tmp_path / "home"
    home.mkdir()
    args = ["write", "--begin", "山"]
    env = _user_env(home)
    if how == "--backend":
        args += ["--backend", missing]
    else:
        env["KERAS_BACKEND"] = missing
    result = subprocess.run([*_tangpoet(), *args], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: backend {missing!r} (from {how}) is not installed: pip install 'tangpoet[{missing}]'"
    ]
    assert result.stdout == ""
