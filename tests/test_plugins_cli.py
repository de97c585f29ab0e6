"""`tangpoet plugins` and shell completion of --cell / --decoder, through real and throwaway entry points."""

from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner

from tangpoet.registry import BUILTIN_CELLS, BUILTIN_DECODERS, REGISTRIES, available_names
from tangpoet.model.cells import CELLS
from tangpoet.cli import main
from tangpoet.decoding import DECODERS
from tangpoet.decoding.constraints import CONSTRAINTS

from _dist_helpers import make_dist


@pytest.fixture
def fresh_registries():
    CELLS.refresh()
    DECODERS.refresh()
    CONSTRAINTS.refresh()
    yield
    CELLS.refresh()
    DECODERS.refresh()
    CONSTRAINTS.refresh()


@pytest.fixture
def fake_plugins(tmp_path, monkeypatch, fresh_registries):
    """One working decoder plugin and one cell plugin that fails to import, installed on sys.path."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("TANGPOET_DISABLE_PLUGINS", raising=False)
    make_dist(
        tmp_path / "a",
        "tangpoet-fake-decoder",
        {"fake-greedy": "tp_fake_decoder:FakeGreedy"},
        {"tp_fake_decoder": "from tangpoet.decoding.greedy import GreedyDecoder as FakeGreedy\n"},
        version="2.3",
        group="tangpoet.decoders",
    )
    make_dist(
        tmp_path / "b",
        "tangpoet-fake-cell",
        {"fakecell": "tp_fake_cell:CELL"},
        {"tp_fake_cell": "raise ImportError('needs libfoo')\n"},
        group="tangpoet.cells",
    )
    monkeypatch.syspath_prepend(str(tmp_path / "a"))
    monkeypatch.syspath_prepend(str(tmp_path / "b"))
    CELLS.refresh()
    DECODERS.refresh()
    yield
    for name in [m for m in sys.modules if m.startswith("tp_fake_")]:
        del sys.modules[name]


def rows_of(args=()):
    result = CliRunner().invoke(main, ["plugins", "--json", *args])
    assert result.exit_code == 0, result.output
    return {(row["kind"], row["name"]): row for row in json.loads(result.output)}


def test_plugins_lists_every_builtin_as_ok(fresh_registries):
    rows = rows_of()
    for kind, names in (("cell", BUILTIN_CELLS), ("decoder", BUILTIN_DECODERS)):
        for name in names:
            row = rows[(kind, name)]
            assert row["builtin"] is True and row["distribution"] == "tangpoet" and row["status"] == "ok"
            assert set(row) == {"kind", "name", "distribution", "version", "builtin", "status", "aliases"}


def test_plugins_lists_third_party_plugins_and_broken_ones(fake_plugins):
    rows = rows_of()
    decoder = rows[("decoder", "fake-greedy")]
    assert decoder == {
        "kind": "decoder",
        "name": "fake-greedy",
        "distribution": "tangpoet-fake-decoder",
        "version": "2.3",
        "builtin": False,
        "status": "ok",
        "aliases": [],
    }
    broken = rows[("cell", "fakecell")]
    assert broken["status"].startswith("broken:") and "needs libfoo" in broken["status"]
    assert rows[("cell", "lstm")]["status"] == "ok"  # a broken plugin breaks nothing else


def test_plugins_table_has_one_line_per_plugin(fake_plugins):
    result = CliRunner().invoke(main, ["plugins"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].split() == ["KIND", "NAME", "DISTRIBUTION", "VERSION", "BUILT-IN", "STATUS"]
    by_name = {line.split()[1]: line for line in lines[1:]}
    assert by_name["fake-greedy"].split()[:6] == ["decoder", "fake-greedy", "tangpoet-fake-decoder", "2.3", "no", "ok"]
    assert "broken:" in by_name["fakecell"]
    assert len(lines) - 1 == sum(len(registry.names()) for registry in REGISTRIES.values())  # cells … scorers


def test_disabling_plugins_hides_them(fake_plugins, monkeypatch):
    monkeypatch.setenv("TANGPOET_DISABLE_PLUGINS", "1")
    CELLS.refresh()
    DECODERS.refresh()
    CONSTRAINTS.refresh()
    rows = rows_of()
    assert all(row["builtin"] for row in rows.values())
    assert {name for kind, name in rows if kind == "decoder"} == set(BUILTIN_DECODERS)


def test_completion_offers_installed_names(fake_plugins):
    assert set(BUILTIN_CELLS) <= set(available_names("cell"))
    assert "fake-greedy" in available_names("decoder")
    fit = main.commands["fit"]
    write = main.commands["write"]
    cell = next(p for p in fit.params if p.name == "cell")
    decoder = next(p for p in write.params if p.name == "decoder")
    ctx = fit.make_context("fit", ["x.txt", "--out", "m.keras"], resilient_parsing=True)
    assert [c.value for c in cell.shell_complete(ctx, "ls")] == ["lstm"]
    offered = [c.value for c in decoder.shell_complete(ctx, "")]
    assert set(BUILTIN_DECODERS) | {"fake-greedy"} <= set(offered)
    assert [c.value for c in decoder.shell_complete(ctx, "to")] == ["top-k", "top-p"]


def test_completion_reads_names_without_importing_keras():
    import subprocess

    code = (
        "import sys; from tangpoet.registry import available_names; "
        "names = available_names('cell') + available_names('decoder'); "
        "assert 'keras' not in sys.modules, 'keras was imported'; print(len(names))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) >= len(BUILTIN_CELLS) + len(BUILTIN_DECODERS)


def test_a_name_registered_at_run_time_is_offered_everywhere(fresh_registries):
    """One registry object per kind: completion, `tangpoet plugins` and the library read the same DECODERS."""
    from tangpoet.registry import DECODERS as CATALOG_DECODERS
    from tangpoet.decoding.greedy import GreedyDecoder

    assert CATALOG_DECODERS is DECODERS and REGISTRIES["cell"] is CELLS and REGISTRIES["constraint"] is CONSTRAINTS

    @DECODERS.register("run-time-greedy")
    class RunTimeGreedy(GreedyDecoder):
        name = "run-time-greedy"

    try:
        assert "run-time-greedy" in available_names("decoder")
        write = main.commands["write"]
        decoder = next(p for p in write.params if p.name == "decoder")
        ctx = write.make_context("write", [], resilient_parsing=True)
        assert [c.value for c in decoder.shell_complete(ctx, "run-")] == ["run-time-greedy"]
        assert rows_of()[("decoder", "run-time-greedy")]["status"] == "ok"
    finally:
        DECODERS.unregister("run-time-greedy")
    assert "run-time-greedy" not in available_names("decoder")
