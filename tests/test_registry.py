"""The entry-point registry, with throwaway distributions (dist-info folders) put on sys.path."""

from __future__ import annotations

import sys
from importlib import metadata

import pytest

from tangpoet.errors import ModelFileError, UnknownNameError
from tangpoet.registry.base import OWN_DISTRIBUTION, PluginError, Registry

from _dist_helpers import make_dist

GROUP = "tangpoet.test_things"


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("TANGPOET_DISABLE_PLUGINS", raising=False)
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("tp_fake_")]:
        del sys.modules[name]


def test_plugin_is_discovered_with_its_distribution_and_loaded_lazily(site):
    make_dist(site, "tp-fake-one", {"shiny": "tp_fake_one:THING"}, {"tp_fake_one": "THING = 'shiny thing'\n"}, "2.5")
    registry = Registry("thing", GROUP)
    entry = registry.entry("shiny")
    assert (entry.distribution, entry.version, entry.builtin) == ("tp-fake-one", "2.5", False)
    assert "tp_fake_one" not in sys.modules  # listing does not import
    assert registry.get("shiny") == "shiny thing"
    assert "tp_fake_one" in sys.modules


def test_only_the_entry_point_asked_for_is_imported(site):
    make_dist(
        site,
        "tp-fake-two",
        {"a": "tp_fake_a:THING", "b": "tp_fake_b:THING"},
        {"tp_fake_a": "THING = 'a'\n", "tp_fake_b": "THING = 'b'\n"},
    )
    registry = Registry("thing", GROUP)
    assert registry.get("a") == "a"
    assert "tp_fake_a" in sys.modules and "tp_fake_b" not in sys.modules


def test_a_broken_plugin_is_reported_by_name_and_breaks_nothing_else(site):
    make_dist(site, "tp-fake-broken", {"broken": "tp_fake_broken:THING"}, {"tp_fake_broken": "import not_a_module_x\n"})
    make_dist(site, "tp-fake-fine", {"fine": "tp_fake_fine:THING"}, {"tp_fake_fine": "THING = 'fine'\n"})
    registry = Registry("thing", GROUP)
    with pytest.raises(PluginError, match=r"'broken' from tp-fake-broken failed to load: ModuleNotFoundError"):
        registry.get("broken")
    assert registry.status("broken").startswith("broken: ")
    assert registry.get("fine") == "fine" and registry.status("fine") == "ok"


def test_a_retired_entry_says_what_replaces_it(site):
    code = "class Old:\n    retired = 'use --decoder new'\n\nclass Plain:\n    retired = ''\n"
    make_dist(site, "tp-fake-retired", {"old": "tp_fake_retired:Old", "plain": "tp_fake_retired:Plain"},
              {"tp_fake_retired": code})
    registry = Registry("thing", GROUP, retires=True)
    assert registry.status("old") == "retired: use --decoder new"
    assert registry.status("plain") == "ok"  # an empty text is not a retirement
    with pytest.raises(UnknownNameError) as info:  # an unknown name's list of what exists leaves retired ones out
        registry.get("nope")
    assert "plain" in str(info.value) and "old" not in str(info.value).split("available:")[1]
    with pytest.raises(UnknownNameError) as info:  # a kind that never retires loads nothing for an unknown name
        Registry("thing", GROUP).get("nope")
    assert "old" in str(info.value).split("available:")[1]


def test_two_plugins_claiming_one_name_is_an_error_naming_both(site):
    make_dist(site, "tp-fake-left", {"twin": "tp_fake_left:THING"}, {"tp_fake_left": "THING = 'l'\n"})
    make_dist(site, "tp-fake-right", {"twin": "tp_fake_right:THING"}, {"tp_fake_right": "THING = 'r'\n"})
    registry = Registry("thing", GROUP)
    with pytest.raises(PluginError) as info:
        registry.get("twin")
    assert "tp-fake-left" in str(info.value) and "tp-fake-right" in str(info.value)


def test_builtins_win_name_clashes(site):
    make_dist(site, OWN_DISTRIBUTION + "-shadow", {"x": "tp_fake_shadow:THING"}, {"tp_fake_shadow": "THING = 'plugin'\n"})
    registry = Registry("thing", GROUP, fallback={"x": "tp_fake_builtin:THING"})
    (site / "tp_fake_builtin.py").write_text("THING = 'builtin'\n")
    # no distribution named "tangpoet" provides this group, so the fallback table supplies the built-in
    assert registry.entry("x").builtin and registry.get("x") == "builtin"


def test_tangpoets_own_entry_points_win_over_a_plugin(site):
    from tangpoet.model.cells import CELLS, LSTM

    make_dist(
        site, "tp-fake-cells", {"lstm": "tp_fake_cells:CELL"}, {"tp_fake_cells": "CELL = 'impostor'\n"}, group="tangpoet.cells"
    )
    registry = Registry("cell", "tangpoet.cells", fallback=CELLS.fallback)
    assert registry.get("lstm") is LSTM
    assert registry.entry("lstm").distribution == OWN_DISTRIBUTION


def test_disable_plugins_keeps_only_builtins(site, monkeypatch):
    make_dist(site, "tp-fake-off", {"extra": "tp_fake_off:THING"}, {"tp_fake_off": "THING = 1\n"})
    (site / "tp_fake_core.py").write_text("THING = 0\n")
    monkeypatch.setenv("TANGPOET_DISABLE_PLUGINS", "1")
    registry = Registry("thing", GROUP, fallback={"core": "tp_fake_core:THING"})
    assert registry.names() == ["core"]
    monkeypatch.setenv("TANGPOET_DISABLE_PLUGINS", "0")
    registry.refresh()
    assert registry.names() == ["core", "extra"]


def test_unknown_name_lists_what_exists_and_suggests_the_closest():
    registry = Registry("cell", "tangpoet.cells", fallback={"lstm": "x:y", "gru": "x:z"})
    with pytest.raises(UnknownNameError, match=r"unknown cell 'lstn' \(did you mean 'lstm'\?\); available: .*gru.*lstm"):
        registry.get("lstn")


def test_in_process_registration_and_its_limits():
    registry = Registry("decoder", None, fallback={"greedy": "tangpoet.registry.base:Registry"})

    @registry.register("mine")
    class Mine:
        pass

    assert registry.get("mine") is Mine and registry.entry("mine").distribution == "<in-process>"
    with pytest.raises(PluginError, match="built into tangpoet"):
        registry.add("greedy", lambda: Mine)
    registry.unregister("mine")
    assert "mine" not in registry


def test_fallback_tables_match_the_installed_entry_points():
    from tangpoet.model.cells import CELLS

    installed = {ep.name: ep.value for ep in metadata.entry_points(group="tangpoet.cells") if ep.dist.name == "tangpoet"}
    assert installed == CELLS.fallback


def test_builtin_cells_come_from_tangpoets_entry_points():
    from tangpoet.model.cells import CELLS

    for name in ("rnn", "lstm", "gru"):
        entry = CELLS.entry(name)
        assert entry.builtin and entry.distribution == OWN_DISTRIBUTION
        assert CELLS.status(name) == "ok"


def test_a_model_whose_cell_plugin_is_missing_names_the_package(tmp_path):
    import keras

    from tangpoet.model.cells import CELLS, KerasCell
    from tangpoet.model.poem_model import build_model, load_model, save_model
    from tangpoet.data.vocab import Vocabulary

    CELLS.add("fakecell", lambda: KerasCell("fakecell", keras.layers.GRU), distribution="tangpoet-fakecell")
    try:
        model = build_model(Vocabulary.build(["春风"]), cell="fakecell", num_layers=1, units=4, embedding_dim=2)
        save_model(model, tmp_path / "m.keras")
        assert load_model(tmp_path / "m.keras").cell_distribution == "tangpoet-fakecell"
    finally:
        CELLS.unregister("fakecell")
    with pytest.raises(ModelFileError, match=r"needs the cell 'fakecell' from the package 'tangpoet-fakecell'.*pip install tangpoet-fakecell"):
        load_model(tmp_path / "m.keras")
