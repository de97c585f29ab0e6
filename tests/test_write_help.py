"""The words a user reads (issue 23, defect 7): `write --help` in groups, completion of --form and --decoder (no
retired decoder), the hint for a prosody constraint whose plugin is not installed, and the README's stale lines."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tangpoet.cli import main
from tangpoet.decoding import DECODERS
from tangpoet.decoding.forms import form_names

README = Path(__file__).resolve().parents[1] / "README.md"


def test_write_help_groups_the_options():
    result = CliRunner().invoke(main, ["write", "--help"])
    assert result.exit_code == 0, result.output
    headings = [line[:-1] for line in result.output.splitlines() if line and not line[0].isspace() and line.endswith(":")]
    assert headings == ["Prompt", "Form and constraints", "Decoding", "Output", "Model", "Other options"]
    sections = dict(zip(headings, re.split(r"^\S[^\n]*:\n", result.output, flags=re.M)[1:]))
    assert "--begin" in sections["Prompt"] and "--keywords" in sections["Prompt"]
    assert "--form" in sections["Form and constraints"] and "--constraint" in sections["Form and constraints"]
    assert "--top-p" in sections["Decoding"] and "--seed" in sections["Decoding"]
    assert "--json" in sections["Output"] and "--script" in sections["Output"]


def complete(option: str, incomplete: str) -> list[str]:
    write = main.commands["write"]
    param = next(p for p in write.params if f"--{option}" in p.opts)
    ctx = write.make_context("write", [], resilient_parsing=True)
    return [c.value for c in param.shell_complete(ctx, incomplete)]


def test_form_completion_offers_the_form_names():
    assert complete("form", "") == form_names()
    assert complete("form", "七") == ["七言绝句", "七言律诗", "七绝", "七律"]
    assert complete("form", "wu") == ["wujue", "wulv"]


def test_decoder_completion_offers_no_retired_decoder():
    class Old:
        retired = "use --decoder beam"

    DECODERS.add("old-beam", lambda: Old)
    try:
        offered = complete("decoder", "")
    finally:
        DECODERS.unregister("old-beam")
    assert {"greedy", "sample", "top-k", "top-p", "beam"} <= set(offered)
    assert not {name for name in offered if DECODERS.status(name).startswith("retired")}
    assert "old-beam" not in offered and "rhyme-beam" not in offered and "rhyme-sample" not in offered


@pytest.mark.parametrize("command", [["write", "--form", "五绝", "--constraint", "regulated"], ["check", "--constraint", "格律", "白日依山尽"]])
def test_a_prosody_constraint_without_its_plugin_says_what_to_install(command):
    env = dict(os.environ, TANGPOET_DISABLE_PLUGINS="1")
    result = subprocess.run([sys.executable, "-m", "tangpoet", *command], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: unknown constraint")
    assert "comes with the prosody plugin tangpoet-rhyme (pip install tangpoet-rhyme" in result.stderr


def test_an_unknown_constraint_without_a_plugin_gets_no_install_hint():
    result = CliRunner().invoke(main, ["check", "--constraint", "regulatd", "白日依山尽"])
    assert result.exit_code == 2 and "did you mean 'regulated'?" in result.output and "pip install" not in result.output


def test_the_readme_has_no_stale_words():
    # the README and the docs page that now holds the plugins table
    text = README.read_text(encoding="utf-8") + (README.parent / "docs" / "plugins" / "index.md").read_text(encoding="utf-8")
    assert "depends on `opencc-python-reimplemented`" not in text  # the rhyme plugin needs `opencc`
    assert not re.search(r"rhyme-(beam|sample) +tangpoet-rhyme +\S+ +no +ok", text)  # shown as retired
