"""write() bounds every text field by what a poem can use, and the planner's work (issue 23, defect 2, the library
side): the CLI and the server share these refusals — one line, before any work."""

from __future__ import annotations

import pytest
from _writing_helpers import KNOWN, tiny_model, vocab
from click.testing import CliRunner

from tangpoet import limits
from tangpoet.cli import main
from tangpoet.decoding.constraints import Constraint, build_constraints
from tangpoet.errors import ConstraintError, DecoderOptionError
from tangpoet.model.poem_model import save_model
from tangpoet.writing import write


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    return str(save_model(tiny_model("gru", 1), tmp_path_factory.mktemp("bounds") / "m.keras"))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--begin", "山" * 1500], "begin has 1,500 characters; a poem can use at most 200"),
        (["--acrostic", "春" * 400], "acrostic has 400 characters; a poem can use at most 32"),
        (["--keywords", ",".join(KNOWN[i : i + 4] for i in range(9))], "the keywords have 36 characters together"),
        (["--constraint", "no-repeat"] * 17, "17 constraints asked for; a request may have at most 16"),
    ],
)
def test_the_cli_refuses_what_no_poem_can_use_before_any_work(tmp_path, args, message):
    """Before any work: the model file named does not even exist, and the refusal is about the request."""
    result = CliRunner().invoke(main, ["write", "--model", str(tmp_path / "missing.keras"), *args])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ") and message in result.output and result.output.count("\n") == 1


def test_long_texts_are_refused_before_decoding(monkeypatch):
    from tangpoet.decoding import base

    def no_decoding(*args, **kwargs):  # pragma: no cover - reaching it is the failure
        raise AssertionError("decoding started")

    monkeypatch.setattr(base.Decoder, "decode", no_decoding)
    with pytest.raises(DecoderOptionError, match="acrostic has 400"):
        write(tiny_model(), acrostic="春" * 400, decoder="sample")  # wrote 2,400 characters before
    with pytest.raises(DecoderOptionError, match="begin has 201"):
        write(tiny_model(), begin="山" * 201, decoder="sample")


def test_the_longest_texts_accepted_still_write_bounded_poems():
    acrostic = "春夏秋冬山月花风" * 4  # 32 lines, the most accepted
    poem = write(tiny_model(), acrostic=acrostic, decoder="greedy", seed=0)[0]
    assert poem.finished and len(poem.text) <= limits.MAX_ACROSTIC_LENGTH * 8
    begin = ("明月光" + "，") * 50  # 200 characters of verses
    poem = write(tiny_model(), begin=begin, decoder="greedy", seed=0)[0]
    assert poem.finished and poem.text.startswith(begin) and len(poem.text) <= limits.MAX_POEM_LENGTH


class Picky(Constraint):
    """A constraint plugin with eight variants that never agrees to a plan; counts the planner's calls."""

    name = "picky"
    option_names = ("tag",)
    calls = 0

    def variants(self, ctx):
        return list(range(8))

    def restrict(self, ctx, variant):
        Picky.calls += 1

    def feasible(self, ctx, variant):
        Picky.calls += 1
        return f"variant {variant} does not suit"


def test_identical_constraints_are_planned_once():
    Picky.calls = 0
    with pytest.raises(ConstraintError, match="does not suit"):
        build_constraints(vocab(), form="五绝", constraints=[Picky(tag=1) for _ in range(10)])
    assert Picky.calls == 16  # 8 variants of one constraint, not 8 ** 10 combinations


def test_the_planner_has_a_budget():
    Picky.calls = 0
    with pytest.raises(ConstraintError) as info:
        build_constraints(vocab(), form="五绝", constraints=[Picky(tag=i) for i in range(6)])
    assert Picky.calls <= limits.MAX_PLAN_STEPS + 1
    message = str(info.value)
    assert "planner's budget" in message and "does not suit" in message and "\n" not in message


@pytest.mark.skipif(
    __import__("tangpoet.decoding.constraints", fromlist=["CONSTRAINTS"]).CONSTRAINTS.resolve("regulated") is None,
    reason="no prosody plugin",
)
def test_repeating_regulated_is_planned_once(model_file):
    """`--constraint regulated` ten times (6-31 s, then refused, before): the same plan as once."""
    once = build_constraints(vocab(), form="七律", constraints=["regulated"])
    many = build_constraints(vocab(), form="七律", constraints=["regulated"] * 10)
    assert len(many.constraints) == 1 and many.plan.variants == once.plan.variants
    args = ["write", "--model", model_file, "--form", "七律", "--decoder", "greedy", "--seed", "1"]
    result = CliRunner().invoke(main, args + ["--constraint", "regulated"] * 10)
    assert result.exit_code == 0, result.output
    assert result.stdout == CliRunner().invoke(main, args + ["--constraint", "regulated"]).stdout
