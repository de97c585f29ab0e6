"""The layout: no import circle anywhere in ``tangpoet/`` (deferred imports included), every module importable on
its own, and every documented import path — old ones included — still importing what it names."""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import tangpoet
from tangpoet.compat import MOVED

ROOT = Path(tangpoet.__file__).parent
REPO = ROOT.parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = sorted(module_name(p) for p in ROOT.rglob("*.py"))


def imports_of(path: Path) -> set[str]:
    """The tangpoet modules ``path`` imports anywhere (top level or inside functions), resolved to modules."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            if base.startswith("tangpoet"):
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("tangpoet"))
    return {MOVED.get(m, m) for m in found}


def import_graph() -> dict[str, set[str]]:
    known = set(MODULES)
    return {
        module_name(p): {m for m in imports_of(p) if m in known and m != module_name(p)} for p in ROOT.rglob("*.py")
    }


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_import_graph_has_no_circle():
    assert circles(import_graph()) == []


def test_the_circle_finder_finds_a_circle():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_kernels_do_not_import_the_model():
    graph = import_graph()
    for module in graph:
        if module.startswith("tangpoet.kernels"):
            assert not {m for m in graph[module] if m.startswith("tangpoet.model")}, module


def test_the_data_path_reads_off_the_folders():
    folders = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert {"data", "model", "training", "registry", "decoding", "kernels", "cli", "serve"} <= folders
    top = sorted(p.stem for p in ROOT.glob("*.py"))
    assert top == ["__init__", "__main__", "backend", "checking", "compat", "errors", "evaluate", "limits", "writing"]


# Each module on its own in a fresh interpreter: a circle hidden behind import order shows up as an ImportError
# here. Keras and the backend are imported before forking (not tangpoet), so each child pays only for tangpoet.
_ALONE = r"""
import os, sys, traceback
import numpy, keras
failed = []
for name in sys.argv[1:]:
    pid = os.fork()
    if pid == 0:
        try:
            __import__(name)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if status:
        failed.append(name)
print("FAILED", " ".join(failed))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_every_module_imports_on_its_own():
    optional = {"tangpoet.kernels.torch_dense", "tangpoet.kernels.torch_rnn", "tangpoet.kernels.torch_loss",
                "tangpoet.kernels.jax_loss", "tangpoet.kernels.jax_distribute", "tangpoet.kernels.tensorflow_distribute",
                "tangpoet.kernels.tensorflow_input"}
    backend = os.environ.get("KERAS_BACKEND", "")
    names = [m for m in MODULES if (m not in optional or backend in m) and m != "tangpoet.__main__"]  # __main__ runs the CLI
    result = subprocess.run([sys.executable, "-c", _ALONE, *names], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "FAILED", result.stderr[-3000:]


DOCUMENTED = [
    ("tangpoet.writing", "write"),
    ("tangpoet.checking", "check_poems"),
    ("tangpoet.evaluate", "evaluate"),
    ("tangpoet.decoding", "get_decoder"),
    ("tangpoet.decoding.base", "Decoder"),
    ("tangpoet.decoding.stepper", "StepDecoder"),
    ("tangpoet.decoding.constraints", "build_constraints"),
    ("tangpoet.decoding.constraints.base", "Constraint"),
    ("tangpoet.decoding.scoring.base", "Scorer"),
    ("tangpoet.model", "load_model"),
    ("tangpoet.model", "build_model"),
    ("tangpoet.training", "train"),
    ("tangpoet.training", "TrainConfig"),
    ("tangpoet.registry", "Registry"),
    ("tangpoet.registry", "CELLS"),
    ("tangpoet.backend", "ensure_backend"),
    ("tangpoet.errors", "TangpoetError"),
    ("tangpoet.cli", "main"),
]


@pytest.mark.parametrize("module, name", DOCUMENTED)
def test_documented_paths_import(module, name):
    assert getattr(importlib.import_module(module), name) is not None


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_paths_are_the_moved_modules(old):
    assert importlib.import_module(old) is importlib.import_module(MOVED[old])


def test_old_names_import_from_old_paths():
    from tangpoet.catalog import CELLS as old_cells
    from tangpoet.cells import get_cell
    from tangpoet.registry import CELLS
    from tangpoet.vocab import Vocabulary

    assert old_cells is CELLS and callable(get_cell) and Vocabulary.__module__ == "tangpoet.data.vocab"


def entry_points_of(pyproject: Path) -> list[tuple[str, str, str]]:
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    groups = data.get("project", {}).get("entry-points", {})
    return [(group, name, target) for group, entries in groups.items() for name, target in entries.items()]


PYPROJECTS = [REPO / "pyproject.toml", *sorted((REPO / "plugins").glob("*/pyproject.toml"))]


@pytest.mark.parametrize(
    "group, name, target",
    [entry for path in PYPROJECTS if path.exists() for entry in entry_points_of(path)],
)
def test_every_entry_point_value_loads(group, name, target):
    module, _, attribute = target.partition(":")
    obj = importlib.import_module(module)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    assert obj is not None
