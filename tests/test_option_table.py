"""One table of decoder options (tangpoet.limits.DECODER_OPTIONS): the command line's options, the HTTP schema's
fields, the decoders' defaults and the bounds are all made from it; one check per option whatever the spelling."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tangpoet import limits
from tangpoet.decoding import get_decoder
from tangpoet.errors import ConstraintError, OptionError
from tangpoet.limits import DECODER_OPTIONS


def test_write_has_one_option_per_table_entry():
    from tangpoet.cli import main

    params = {p.name: p for p in main.commands["write"].params}
    for name, option in DECODER_OPTIONS.items():
        param = params[name]
        assert param.opts == [option.flag] and param.default is None
        assert param.type.name == ("integer" if option.kind is int else "float")
        assert option.help in param.help and f"default {option.default:g}" in param.help


def test_the_schema_has_one_field_per_table_entry():
    pytest.importorskip("fastapi")
    from tangpoet.serve.schemas import generate_request

    props = generate_request({"top-p": ("top_p", "temperature")}, ["五绝"]).model_json_schema()["properties"]
    for name, option in DECODER_OPTIONS.items():
        assert props[name]["anyOf"][0]["type"] == ("integer" if option.kind is int else "number")
        assert props[name]["maximum"] == option.high and option.help in props[name]["description"]


def test_decoders_take_their_defaults_and_bounds_from_the_table():
    assert get_decoder("top-k").top_k == DECODER_OPTIONS["top_k"].default
    assert get_decoder("top-p").top_p == DECODER_OPTIONS["top_p"].default
    assert get_decoder("beam").beam_width == DECODER_OPTIONS["beam_width"].default
    for decoder, name in (("top-k", "top_k"), ("beam", "beam_width")):
        with pytest.raises(OptionError) as caught:
            get_decoder(decoder, **{name: DECODER_OPTIONS[name].high + 1})
        assert str(caught.value).startswith(f"{DECODER_OPTIONS[name].label} must be from")
    limits.check_request(options={"min_p": 5.0})  # a plugin's own option: not the table's to bound
    with pytest.raises(OptionError):  # a plugin's option of a known name is bounded the same way
        limits.check_request(options={"top_k": 0})


@pytest.mark.parametrize("value", [10**30, 1e30, 2.5, True, "5", float("nan"), 0])
def test_a_refused_value_is_one_line_naming_the_option_each_front_ends_way(value):
    with pytest.raises(OptionError) as caught:
        get_decoder("top-k", top_k=value)
    error = caught.value
    assert str(error).startswith("top-k must be ") and "\n" not in str(error) and len(str(error)) < 120
    assert error.spelled(lambda name: name).startswith("top_k must be ")  # the HTTP API's field


def test_the_command_line_refuses_a_huge_top_k_in_one_line(tmp_path):
    """`tangpoet write --decoder top-k --top-k 10**30` printed a 40-line traceback (numpy's isfinite on a huge int)."""
    run = subprocess.run(
        [sys.executable, "-m", "tangpoet", "write", "-m", str(tmp_path / "none.keras"), "--decoder", "top-k",
         "--top-k", "1" + "0" * 30],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.startswith("error: top-k must be from 1 to 100,000, got 1,000,") and run.stderr.count("\n") == 1


def test_a_constraint_option_is_checked_once_whatever_its_spelling():
    from tangpoet.decoding.constraints import to_constraint

    def refusal(spec) -> str:
        with pytest.raises(ConstraintError) as caught:
            to_constraint(spec)
        return str(caught.value)

    assert refusal("no-repeat:ngram=2.5") == refusal(("no-repeat", {"ngram": 2.5})) == (
        "option ngram must be a whole number, got 2.5"
    )
    assert refusal("no-repeat:ngram=1000000000000000000") == refusal(("no-repeat", {"ngram": 10**18}))
    assert "from 0 to 64" in refusal(("no-repeat", {"ngram": 65}))
    assert to_constraint("no-repeat:ngram=3").ngram == to_constraint(("no-repeat", {"ngram": 3})).ngram == 3
