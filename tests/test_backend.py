"""Backend choice: --backend flag > KERAS_BACKEND > keras.json > first installed; Keras imported only after."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tangpoet import backend as backend_module
from tangpoet.errors import BackendError


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.setattr(backend_module, "is_installed", lambda name: True)
    return tmp_path / "keras-home"


def write_keras_json(home, name):
    home.mkdir(parents=True, exist_ok=True)
    (home / "keras.json").write_text(json.dumps({"backend": name, "floatx": "float32"}))


def test_flag_beats_env_and_keras_json(clean_env, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    write_keras_json(clean_env, "tensorflow")
    assert backend_module.resolve("torch") == ("torch", "--backend")


def test_env_beats_keras_json(clean_env, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    write_keras_json(clean_env, "tensorflow")
    assert backend_module.resolve() == ("torch", "KERAS_BACKEND")


def test_keras_json_used_when_no_flag_or_env(clean_env):
    write_keras_json(clean_env, "tensorflow")
    assert backend_module.resolve() == ("tensorflow", "keras.json")


def test_damaged_keras_json_is_ignored(clean_env):
    clean_env.mkdir(parents=True)
    (clean_env / "keras.json").write_text("{not json")
    assert backend_module.resolve() == ("jax", "first installed")


def test_keras_json_naming_a_backend_not_installed_falls_back_with_a_note(clean_env, monkeypatch):
    # Keras writes "tensorflow" into keras.json on its first import, whatever backend is installed (issue 11)
    monkeypatch.setattr(backend_module, "is_installed", lambda name: name == "torch")
    write_keras_json(clean_env, "tensorflow")
    assert backend_module.resolve() == ("torch", "first installed")
    note = backend_module._choose(None)[2]
    assert note.startswith("note: using backend 'torch' (the first installed)") and "'tensorflow', which is not installed" in note
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")  # an explicit choice is still an error
    with pytest.raises(BackendError, match="from KERAS_BACKEND"):
        backend_module.resolve()


def test_keras_json_naming_no_backend_falls_back_with_a_note(clean_env):
    write_keras_json(clean_env, "mxnet")
    name, source, note = backend_module._choose(None)
    assert (name, source) == ("jax", "first installed") and "'mxnet', which is not a Keras backend" in note


def test_keras_json_is_written_naming_the_first_installed_and_never_replaced(clean_env, monkeypatch):
    monkeypatch.setattr(backend_module, "is_installed", lambda name: name != "jax")
    backend_module._write_keras_json()
    assert json.loads((clean_env / "keras.json").read_text())["backend"] == "tensorflow"
    write_keras_json(clean_env, "torch")
    backend_module._write_keras_json()
    assert json.loads((clean_env / "keras.json").read_text())["backend"] == "torch"
    assert [p.name for p in clean_env.iterdir()] == ["keras.json"]  # no temporary file left behind


def test_first_installed_in_order_jax_tensorflow_torch(clean_env, monkeypatch):
    monkeypatch.setattr(backend_module, "is_installed", lambda name: name in {"tensorflow", "torch"})
    assert backend_module.resolve() == ("tensorflow", "first installed")
    monkeypatch.setattr(backend_module, "is_installed", lambda name: name == "torch")
    assert backend_module.resolve() == ("torch", "first installed")


def test_nothing_installed_names_the_extras(clean_env, monkeypatch):
    monkeypatch.setattr(backend_module, "is_installed", lambda name: False)
    with pytest.raises(BackendError, match=r"tangpoet\[jax\]"):
        backend_module.resolve()


def test_not_installed_backend_names_its_extra(clean_env, monkeypatch):
    monkeypatch.setattr(backend_module, "is_installed", lambda name: name != "torch")
    with pytest.raises(BackendError, match=r"pip install 'tangpoet\[torch\]'"):
        backend_module.resolve("torch")


@pytest.mark.parametrize("alias, name", [("tf", "tensorflow"), ("PyTorch", "torch"), (" JAX ", "jax")])
def test_aliases(alias, name):
    assert backend_module.normalize(alias) == name


def test_unknown_backend_lists_choices():
    with pytest.raises(BackendError, match="jax, tensorflow, torch"):
        backend_module.normalize("mxnet")


def test_switching_after_keras_is_imported_is_an_error(backend):
    import keras  # noqa: F401  (conftest already chose the backend)

    other = next(name for name in backend_module.BACKENDS if name != backend)
    with pytest.raises(BackendError, match="already running"):
        backend_module.ensure_backend(other)
    assert backend_module.ensure_backend(backend) == backend


def _run(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)


def test_importing_the_cli_does_not_import_keras():
    result = _run("import sys, tangpoet.cli; print('keras' in sys.modules)", dict(os.environ))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_without_env_or_keras_json_an_installed_backend_is_chosen(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["KERAS_HOME"] = str(tmp_path)
    code = (
        "from tangpoet.backend import ensure_backend, is_installed; name = ensure_backend(); "
        "import keras; print(name, keras.backend.backend(), is_installed(name))"
    )
    result = _run(code, env)
    assert result.returncode == 0, result.stderr
    chosen, running, installed = result.stdout.split()
    assert chosen == running and installed == "True"


@pytest.mark.parametrize("given, expected", [(None, "1"), ("0", "0")])
def test_torch_large_tensors_on_huge_pages_unless_the_user_says_otherwise(given, expected, tmp_path):
    """ensure_backend asks torch for transparent huge pages (its THP_MEM_ALLOC_ENABLE) before Keras imports it; a
    setting the user made is kept."""
    env = {k: v for k, v in os.environ.items() if k not in ("THP_MEM_ALLOC_ENABLE",)}
    env["KERAS_HOME"] = str(tmp_path)
    if given is not None:
        env["THP_MEM_ALLOC_ENABLE"] = given
    code = "import os; from tangpoet.backend import ensure_backend; ensure_backend(); print(os.environ['THP_MEM_ALLOC_ENABLE'])"
    result = _run(code, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == expected
