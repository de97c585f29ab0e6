"""Constraint plugins: the ``tangpoet.constraints`` entry-point group on the shared registry, listing, did-you-mean,
aliases, broken plugins reported by name, ``NAME:opt=val`` specs, and a plugin composed with every decoder."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from _dist_helpers import make_dist
from _writing_helpers import check_poem, tiny_model, vocab
from click.testing import CliRunner

from tangpoet.registry import BUILTIN_CONSTRAINTS, available_names
from tangpoet.cli import main
from tangpoet.decoding.constraints import (
    CONSTRAINTS,
    Constraint,
    Violation,
    build_constraints,
    get_constraint,
    parse_spec,
)
from tangpoet.errors import ConstraintError, TangpoetError, UnknownNameError
from tangpoet.registry.base import PluginError
from tangpoet.writing import write

PLUGIN = '''
import numpy as np
from tangpoet.decoding.constraints import Constraint, LogitsProcessor, Violation

class NoMountains(Constraint):
    """No 山 anywhere (static mask), and no 月 right after 明 (dynamic)."""
    name = "no-mountains"
    aliases = ("无山", "nomountain")
    option_names = ("also",)

    def restrict(self, ctx, variant):
        banned = [ctx.vocab.id(c) for c in "山" + str(self.options.get("also", "")) if c in ctx.vocab]
        ctx.allowed[:, :, banned] = False

    def processors(self, ctx, variant):
        return [NoMingYue(ctx.vocab)]

    def check(self, text, form):
        return [Violation("mountain", None, None, "山 in the poem")] if "山" in text else []

class NoMingYue(LogitsProcessor):
    def __init__(self, vocab):
        self.ming, self.yue = vocab.id("明"), vocab.id("月")
    def __call__(self, history, log_probs):
        if history.shape[1]:
            log_probs[history[:, -1] == self.ming, self.yue] = -np.inf
        return log_probs
'''


@pytest.fixture
def fresh():
    CONSTRAINTS.refresh()
    yield
    CONSTRAINTS.refresh()
    for name in [m for m in sys.modules if m.startswith("tp_fake_")]:
        del sys.modules[name]


@pytest.fixture
def plugins(tmp_path, monkeypatch, fresh):
    """A working constraint plugin (needs a form) and one that fails to import."""
    monkeypatch.delenv("TANGPOET_DISABLE_PLUGINS", raising=False)
    make_dist(
        tmp_path / "a",
        "tangpoet-fake-mountains",
        {"no-mountains": "tp_fake_mountains:NoMountains"},
        {"tp_fake_mountains": PLUGIN.replace('    option_names = ("also",)', '    option_names = ("also",)\n    needs_form = True')},
        version="0.3",
        group="tangpoet.constraints",
    )
    make_dist(
        tmp_path / "b",
        "tangpoet-fake-broken",
        {"shaky": "tp_fake_shaky:Shaky"},
        {"tp_fake_shaky": "raise ImportError('needs libshaky')\n"},
        group="tangpoet.constraints",
    )
    monkeypatch.syspath_prepend(str(tmp_path / "a"))
    monkeypatch.syspath_prepend(str(tmp_path / "b"))
    CONSTRAINTS.refresh()
    yield


def plugin_rows():
    result = CliRunner().invoke(main, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    return {(row["kind"], row["name"]): row for row in json.loads(result.output)}


def test_builtins_are_registered_constraints(fresh):
    rows = plugin_rows()
    for name in BUILTIN_CONSTRAINTS:
        row = rows[("constraint", name)]
        assert row["builtin"] is True and row["distribution"] == "tangpoet" and row["status"] == "ok", row
    assert "藏头" in rows[("constraint", "acrostic")]["aliases"]
    for name in BUILTIN_CONSTRAINTS:
        assert issubclass(CONSTRAINTS.get(name), Constraint) and CONSTRAINTS.get(name).name == name


def test_plugins_are_listed_and_a_broken_one_is_reported_by_name(plugins):
    rows = plugin_rows()
    row = rows[("constraint", "no-mountains")]
    assert (row["distribution"], row["version"], row["builtin"], row["status"]) == ("tangpoet-fake-mountains", "0.3", False, "ok")
    assert row["aliases"] == ["无山", "nomountain"]
    broken = rows[("constraint", "shaky")]
    assert broken["status"].startswith("broken:") and "needs libshaky" in broken["status"] and "shaky" in broken["status"]
    assert rows[("constraint", "form")]["status"] == "ok"  # a broken plugin breaks nothing else
    table = CliRunner().invoke(main, ["plugins"]).output
    line = next(line for line in table.splitlines() if "no-mountains" in line)
    assert line.split()[:6] == ["constraint", "no-mountains", "tangpoet-fake-mountains", "0.3", "no", "ok"]
    assert "aliases: 无山, nomountain" in line


def test_using_a_broken_plugin_is_one_line_naming_it(plugins):
    with pytest.raises(PluginError) as info:
        build_constraints(vocab(), form="五绝", constraints=[("shaky", {})])
    assert "shaky" in str(info.value) and "tangpoet-fake-broken" in str(info.value) and "\n" not in str(info.value)


def test_unknown_names_suggest_the_closest(fresh):
    with pytest.raises(UnknownNameError, match=r"did you mean 'no-repeat'\?") as info:
        get_constraint("no-repaet")
    assert "available: acrostic, begin, form, keywords, no-repeat" in str(info.value)
    with pytest.raises(UnknownNameError, match="did you mean 'keywords'"):
        build_constraints(vocab(), constraints=["keyword"])


def test_aliases_and_case_resolve(plugins):
    assert type(get_constraint("藏头")).name == "acrostic"
    assert type(get_constraint("关键词")).name == "keywords"
    assert type(get_constraint("No_Repeat")).name == "no-repeat"
    assert type(get_constraint("无山")).name == "no-mountains"
    assert type(get_constraint("NoMountain")).name == "no-mountains"
    with pytest.raises(UnknownNameError, match="did you mean 'nomountain'"):
        get_constraint("nomountian")


def test_completion_offers_constraints_and_aliases(plugins):
    names = available_names("constraint")
    assert set(BUILTIN_CONSTRAINTS) | {"no-mountains", "无山", "藏头"} <= set(names)
    write_cmd = main.commands["write"]
    option = next(p for p in write_cmd.params if p.name == "constraint_specs")
    ctx = write_cmd.make_context("write", [], resilient_parsing=True)
    assert [c.value for c in option.shell_complete(ctx, "no-")] == ["no-mountains", "no-repeat"]
    check_cmd = main.commands["check"]
    option = next(p for p in check_cmd.params if p.name == "constraint_specs")
    assert "keywords" in [c.value for c in option.shell_complete(ctx, "key")]


@pytest.mark.parametrize(
    "spec, expected",
    [
        ("tones:strict", ("tones", {"strict": True})),
        ("regulated:pattern=ping,strict=no", ("regulated", {"pattern": "ping", "strict": False})),
        ("no-repeat:ngram=3", ("no-repeat", {"ngram": "3"})),
        ("keywords:words=秋月/故乡", ("keywords", {"words": "秋月/故乡"})),
        ("  form : name=五绝 ", ("form", {"name": "五绝"})),
        ("x:first-rhymes", ("x", {"first_rhymes": True})),
    ],
)
def test_specs(spec, expected):
    assert parse_spec(spec) == expected


@pytest.mark.parametrize("spec", [":strict", "tones:=3", "tones:a,,b"])
def test_bad_specs_are_one_line(spec):
    with pytest.raises(ConstraintError):
        parse_spec(spec)


def test_unknown_options_and_missing_form_are_refused(plugins):
    with pytest.raises(ConstraintError, match="does not take colour"):
        get_constraint("no-repeat", {"colour": "red"})
    with pytest.raises(ConstraintError, match="'no-mountains' needs a form"):
        build_constraints(vocab(), constraints=["no-mountains"])


def test_core_constraints_by_name_are_the_same_as_the_options():
    by_name = build_constraints(
        vocab(), constraints=["form:name=五绝", "acrostic:text=春夏秋冬", "keywords:words=明月/故乡"]
    )
    assert by_name.form.name == "五言绝句" and by_name.acrostic == "春夏秋冬" and by_name.keywords == ("明月", "故乡")
    with pytest.raises(ConstraintError, match="two different forms"):
        build_constraints(vocab(), form="七绝", constraints=["form:name=五绝"])


class Level(Constraint):
    """In-process: the third character of every line comes from a small set (static), via the registry."""

    name = "third-char"

    def restrict(self, ctx, variant):
        keep = np.zeros(ctx.classes.size, dtype=bool)
        keep[[ctx.vocab.id(c) for c in "明月花"]] = True
        ctx.allowed[:, 2] &= keep

    def check(self, text, form):
        from tangpoet.decoding.constraints import split_verses

        return [Violation("third", i, 2, "bad") for i, v in enumerate(split_verses(text)) if v[2] not in "明月花"]


@pytest.fixture
def third_char(fresh):
    CONSTRAINTS.add("third-char", lambda: Level)
    yield
    CONSTRAINTS.unregister("third-char")


@pytest.mark.parametrize("decoder", ["greedy", "sample", "top-k", "top-p", "beam"])
def test_a_plugin_constraint_composes_with_every_decoder(third_char, decoder):
    poems = write(
        tiny_model(), form="五律", decoder=decoder, num=1 if decoder == "greedy" else 3, seed=4,
        constraints=["third-char"], keywords=["明月"],
    )
    for poem in poems:
        check_poem(poem.text, form="五律")
        assert Level().check(poem.text, None) == [] and "明月" in poem.text, poem.text


def test_a_plugin_constraint_with_its_processors(plugins):
    for decoder in ("top-p", "beam"):
        for poem in write(tiny_model(), form="七绝", decoder=decoder, num=3, seed=1, constraints=["无山:also=花"]):
            assert "山" not in poem.text and "花" not in poem.text and "明月" not in poem.text, poem.text
    with pytest.raises(ConstraintError, match="no place"):  # 山 is masked everywhere: no place for the keyword
        build_constraints(vocab(), form="五绝", constraints=["no-mountains"], keywords=["山"])


def test_the_cli_takes_constraints_and_reports_unknown_ones(tmp_path, third_char):
    from tangpoet.model.poem_model import save_model

    path = str(save_model(tiny_model(), tmp_path / "m.keras"))
    ok = CliRunner().invoke(main, ["write", "--model", path, "--form", "五绝", "--constraint", "third-char", "--seed", "3"])
    assert ok.exit_code == 0, ok.output
    assert Level().check("".join(ok.stdout.split()), None) == []
    bad = CliRunner().invoke(main, ["write", "--model", path, "--form", "五绝", "--constraint", "thrid-char"])
    assert bad.exit_code == 2 and bad.output.count("\n") == 1 and "did you mean 'third-char'" in bad.output
    assert isinstance(UnknownNameError("x"), TangpoetError)


class Buggy(Constraint):
    """A plugin whose own code fails while the poem is planned."""

    name = "buggy"

    def restrict(self, ctx, variant):
        return 1 / 0


def test_a_plugin_that_fails_while_planning_is_one_line_naming_it(tmp_path, fresh):
    from tangpoet.model.poem_model import save_model

    CONSTRAINTS.add("buggy", lambda: Buggy)
    try:
        with pytest.raises(PluginError, match=r"^constraint plugin 'buggy' failed in restrict\(\): ZeroDivisionError"):
            write(tiny_model(), form="五绝", constraints=["buggy"], seed=1)
        path = str(save_model(tiny_model(), tmp_path / "m.keras"))
        bad = CliRunner().invoke(main, ["write", "--model", path, "--form", "五绝", "--constraint", "buggy"])
        assert bad.exit_code == 2 and bad.output.count("\n") == 1 and "'buggy' failed in restrict()" in bad.output, bad.output
        assert "Traceback" not in bad.output
    finally:
        CONSTRAINTS.unregister("buggy")
