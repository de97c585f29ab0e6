"""Hostile inputs, driven as a user drives tangpoet: each case one clear line, the right exit status, no traceback,
and no file changed that should not change (issue 11, defects 5-8).

Subprocesses run ``python -m tangpoet`` with a fresh ``HOME`` (and ``KERAS_HOME`` inside it) on this environment's
backend (``KERAS_BACKEND``, as tox sets it); the first-run behaviour without any backend variable is
``test_first_run.py``'s. Most cases are refused before Keras is imported, so they cost a Python start-up each.
Two hypothesis fuzzers run in-process (click's CliRunner, a tiny model): ``write``'s options, and a model file's
``config.json``; every example must exit with 0 or 2, never a traceback.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shlex
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from _cli_helpers import one_error_line
from _writing_helpers import KNOWN, tiny_model
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tangpoet import limits
from tangpoet.cli import main
from tangpoet.errors import DecoderOptionError
from tangpoet.model.poem_model import save_model
from tangpoet.writing import write

PYTHON = sys.executable
TIMEOUT = 120


# --------------------------------------------------------------------------------------------------- fixtures


def rezip(source: Path, target: Path, config_json: bytes | None = None, extra: dict[str, bytes] | None = None) -> Path:
    """A copy of the model file ``source`` with its ``config.json`` replaced (and members added)."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "config.json" and config_json is not None:
                data = config_json
            zout.writestr(info.filename, data)
        for name, data in (extra or {}).items():
            zout.writestr(name, data)
    return target


def config_of(path: Path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A folder of hostile inputs next to one good tiny model."""
    root = tmp_path_factory.mktemp("hostile")
    good = save_model(tiny_model("gru", 1), root / "tiny.keras")
    config = config_of(good)
    for name, value in (("list", [1, 2]), ("null", None), ("string", "x"), ("missing", KeyError)):
        mutated = copy.deepcopy(config)
        if value is KeyError:
            del mutated["config"]
        else:
            mutated["config"] = value
        rezip(good, root / f"config-{name}.keras", json.dumps(mutated).encode())
    evil = copy.deepcopy(config)
    evil["config"]["cell"] = "nosuchcell"
    evil["config"]["cell_distribution"] = "evil-pkg; rm -rf /"
    rezip(good, root / "evil.keras", json.dumps(evil).encode())
    missing_plugin = copy.deepcopy(config)
    missing_plugin["config"]["cell"] = "nosuchcell"
    missing_plugin["config"]["cell_distribution"] = "tangpoet-nosuchcell"
    rezip(good, root / "plugin.keras", json.dumps(missing_plugin).encode())
    huge = copy.deepcopy(config)
    huge["config"]["units"] = 60_000  # would make Keras allocate ~100 GB before reading the weights
    rezip(good, root / "huge.keras", json.dumps(huge).encode())
    # config.json inflating to more than a model file may hold, from a file of a few kilobytes
    bomb = b'{"class_name": "PoemModel", "config": {}}' + b" " * (limits.MAX_CONFIG_BYTES + 1)
    rezip(good, root / "bomb.keras", bomb)
    (root / "folder.keras").mkdir()
    (root / "utf16.txt").write_bytes("静夜思:床前明月光，疑是地上霜。举头望明月，低头思故乡。\n".encode("utf-16"))
    (root / "utf16-nobom.txt").write_bytes("静夜思:床前明月光，疑是地上霜。\n".encode("utf-16-le"))
    return root


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("home")
    return {**os.environ, "HOME": str(home), "KERAS_HOME": str(home / ".keras"), "PYTHONUNBUFFERED": ""}


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with a hash of its bytes (folders as themselves)."""
    out = {}
    for path in sorted(root.rglob("*")):
        out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return out


def run(args: list[str], work: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "-m", "tangpoet", *args], cwd=work, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )


def shell(command: str, work: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``command`` in bash with ``tangpoet`` meaning this environment's ``python -m tangpoet``."""
    prefix = f"set -o pipefail; tangpoet() {{ {shlex.quote(PYTHON)} -m tangpoet \"$@\"; }}; "
    return subprocess.run(
        ["bash", "-c", prefix + command], cwd=work, env=env, capture_output=True, text=True, timeout=TIMEOUT
    )


# ------------------------------------------------------------------------------------- refused in one line

M = "tiny.keras"
REFUSED = [
    # defect 5: unbounded requests, refused before any work
    (["write", "-m", M, "--decoder", "beam", "--beam-width", "100000"], "beam width must be from 1 to 64"),
    (["write", "-m", M, "--num", "100000"], "the number of poems must be from 1 to 1,000"),
    (["write", "-m", M, "--max-len", "100000000"], "max length must be from 1 to 1,000"),
    (["write", "-m", M, "--decoder", "top-k", "--top-k", "1000000000000"], "top-k must be from 1 to 100,000"),
    (["write", "-m", M, "--temperature", "1e-320"], "temperature must be from 0.001 to 100"),
    (["write", "-m", M, "--temperature", "inf"], "temperature must be"),
    (["write", "-m", M, "--top-p", "nan"], "top-p must be"),
    (["write", "-m", M, "--no-repeat-ngram", "1000000000"], "no-repeat n-gram size must be from 0 to 64"),
    (["write", "-m", M, "--decoder", "beam", "--length-penalty", "1e308"], "length penalty must be from -10 to 10"),
    # defect 6: seeds, and model files whose config.json "config" is not an object
    (["write", "-m", M, "--seed", "-5"], "seed must be from 0 to 4,294,967,295"),
    (["write", "-m", M, "--seed", str(10**30)], "seed must be from 0 to 4,294,967,295"),
    *[
        ([command, "-m", f"config-{kind}.keras"], "holds no model configuration")
        for kind in ("list", "null", "string", "missing")
        for command in ("write", "info")
    ],
    # defect 7: a model file is untrusted input
    (["info", "-m", "bomb.keras"], "more than a model file may hold (33,554,432); it was not read"),
    (["write", "-m", "bomb.keras"], "it was not read"),
    (["info", "-m", "huge.keras"], "its architecture needs"),
    (["write", "-m", "huge.keras"], "its architecture needs"),
    # item 8
    (["write", "-m", "folder.keras"], "folder.keras is a directory"),
    (["info", "-m", "folder.keras"], "folder.keras is a directory"),
    (
        ["eval", "utf16.txt", "-m", M],
        "utf16.txt is not valid UTF-8: it looks like UTF-16 (convert it to UTF-8, e.g. iconv -f UTF-16 -t UTF-8)",
    ),
    (["eval", "utf16-nobom.txt", "-m", M], "looks like UTF-16"),
    (["fit", "utf16.txt", "--out", "new.keras", "--epochs", "1"], "looks like UTF-16"),
]


@pytest.mark.parametrize("args, message", REFUSED, ids=[" ".join(a) for a, _ in REFUSED])
def test_refused_in_one_line(args, message, work, env):
    before = snapshot(work)
    result = run(args, work, env)
    one_error_line(result, message)
    after = snapshot(work)
    assert after == before  # nothing written, nothing changed (fit's lock file, if any, is not left behind)


def test_an_invalid_distribution_name_is_never_echoed_into_pip_install(work, env):
    result = run(["write", "-m", "evil.keras"], work, env)
    one_error_line(result, "the file names an invalid plugin distribution")
    assert "pip install" not in result.stderr and "rm -rf" not in result.stderr
    result = run(["write", "-m", "plugin.keras"], work, env)  # a valid name is still offered
    one_error_line(result, "which is not installed: pip install tangpoet-nosuchcell")


# ------------------------------------------------------------------------------------ standard output


def test_stdout_full_is_one_line(work, env):
    one_error_line(shell(f"tangpoet write -m {M} --seed 1 > /dev/full", work, env), "cannot write to standard output")


def test_stdout_closed_is_not_a_success(work, env):
    result = shell(f"tangpoet write -m {M} --seed 1 >&-", work, env)
    one_error_line(result, "standard output is closed")


def test_broken_pipe_exits_quietly(work, env):
    # `true` exits at once: the poem is written into a pipe nobody reads (EPIPE)
    result = shell(f"tangpoet write -m {M} --seed 1 -n 3 | true; echo status=${{PIPESTATUS[0]}}", work, env)
    assert result.stdout.strip() in ("status=0", "status=141"), result.stdout
    quiet(result.stderr)
    result = shell(f"tangpoet write -m {M} --seed 1 -n 40 | head -1", work, env)
    assert len(result.stdout.splitlines()) == 1
    quiet(result.stderr)


def quiet(stderr: str) -> None:
    """Nothing about the pipe on stderr: no traceback, no "Exception ignored" at shutdown, no error line."""
    for word in ("Traceback", "Exception ignored", "BrokenPipe", "Broken pipe", "error:"):
        assert word not in stderr, stderr


# ---------------------------------------------------------------------------------- prompt text


def test_prompt_text_is_read_like_corpus_text(work, env):
    result = run(["write", "-m", M, "--begin", "春 风 明,", "--decoder", "greedy", "--max-len", "12"], work, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("春风明，") and "Traceback" not in result.stderr


# ------------------------------------------------------------------------------- the library's bounds


@pytest.mark.parametrize(
    "decoder, options",
    [
        ("beam", {"beam_width": limits.MAX_BEAM_WIDTH + 1}),
        ("top-k", {"top_k": limits.MAX_TOP_K + 1}),
        ("sample", {"temperature": limits.MAX_TEMPERATURE * 2}),
        ("beam", {"length_penalty": -limits.MAX_LENGTH_PENALTY - 1}),
        ("sample", {"num": limits.MAX_POEMS + 1}),
        ("sample", {"max_len": limits.MAX_POEM_LENGTH + 1}),
        ("sample", {"no_repeat_ngram": limits.MAX_NO_REPEAT_NGRAM + 1}),
        ("sample", {"seed": -1}),
    ],
)
def test_bounds_apply_in_the_library_before_loading(decoder, options):
    # the model path does not exist: the request is refused before anything is read (the HTTP server gets this too)
    with pytest.raises(DecoderOptionError, match="must be from"):
        write("no-such-file.keras", decoder=decoder, **options)


def test_many_poems_are_written_in_batches():
    model = tiny_model("gru", 1)
    poems = write(model, decoder="sample", num=limits.POEM_BATCH + 6, max_len=12, seed=3)
    assert len(poems) == limits.POEM_BATCH + 6
    assert [p.score for p in poems] == sorted((p.score for p in poems), reverse=True)
    assert len(write(model, decoder="greedy", num=limits.POEM_BATCH + 6, max_len=12)) == 1


# ------------------------------------------------------------------------------------------- fuzzing

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
prompt = st.text(alphabet=KNOWN + ",. 風東猫a\t", max_size=5)


def option_strategies(hostile: bool) -> dict:
    """Strategies per ``write`` option: within the bounds, or (hostile) anything a user could type as well."""

    def either(valid, bad):
        return st.one_of(st.none(), valid, bad) if hostile else st.one_of(st.none(), valid)

    any_float = st.floats(allow_nan=True, allow_infinity=True)
    return {
        "decoder": st.sampled_from(["greedy", "sample", "top-k", "top-p", "beam"] + (["beem"] if hostile else [])),
        "num": either(st.integers(1, 3), st.sampled_from([0, -2, limits.MAX_POEMS + 1, 10**12])),
        "max_len": either(st.integers(1, 40), st.sampled_from([0, -3, 10**9])),
        "seed": either(st.integers(0, limits.MAX_SEED), st.integers(-(2**40), 2**70)),
        "temperature": either(st.floats(0.05, 5.0), any_float),
        "top_p": either(st.floats(0.01, 1.0), any_float),
        "length_penalty": either(st.floats(-2.0, 2.0), any_float),
        "top_k": either(st.integers(1, 50), st.integers(-3, 10**13)),
        "beam_width": either(st.integers(1, 6), st.sampled_from([0, -1, 65, 10**6])),
        "no_repeat_ngram": either(st.integers(0, 4), st.sampled_from([-1, 65, 10**9])),
        "begin": prompt,
        "acrostic": prompt,
        "form": st.one_of(st.none(), st.sampled_from(["五绝", "七绝", "wulv"] + (["八绝"] if hostile else []))),
        "script": st.one_of(st.none(), st.sampled_from(["simplified", "traditional"])),
    }


DECODER_OPTIONS = {
    "greedy": (),
    "sample": ("temperature",),
    "top-k": ("top_k", "temperature"),
    "top-p": ("top_p", "temperature"),
    "beam": ("beam_width", "length_penalty"),
}
ALL_DECODER_OPTIONS = {name for names in DECODER_OPTIONS.values() for name in names}


@FUZZ
@given(hostile=st.booleans(), data=st.data())
def test_fuzz_write_options(work, hostile, data):
    options = {key: data.draw(strategy, label=key) for key, strategy in option_strategies(hostile).items()}
    if not hostile:  # a plausible request: only the decoder's own options, characters the model knows
        takes = DECODER_OPTIONS[options["decoder"]]
        options = {k: (v if k not in ALL_DECODER_OPTIONS or k in takes else None) for k, v in options.items()}
        options["begin"] = "".join(c for c in options["begin"] if c in KNOWN + ", ")
        options["acrostic"] = None
        if options["decoder"] == "beam":
            options["num"] = min(options["num"] or 1, options["beam_width"] or 5)
    args = ["write", "-m", str(work / M)]
    for key, value in options.items():
        if value is None:
            continue
        args += [f"--{key.replace('_', '-')}", repr(value) if isinstance(value, float) else str(value)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code in (0, 2), (args, result.output, result.exception)
    assert "Traceback" not in result.output
    event(f"exit {result.exit_code}{' (hostile)' if hostile else ''}")
    if result.exit_code == 2:
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=6,
)
CONFIG_KEYS = (
    "vocabulary", "cell", "num_layers", "units", "embedding_dim", "dropout", "embedding_dropout", "tie_embeddings",
    "cell_options", "metadata", "cell_distribution", "name", "trainable",
    "metadata.corpus", "metadata.training", "metadata.training.history", "metadata.training.val_nll", "metadata.split",
)


@settings(FUZZ, max_examples=30)
@given(
    mutations=st.lists(
        st.tuples(st.sampled_from(("<top>", "<class_name>", *CONFIG_KEYS)), st.one_of(st.just(KeyError), json_values)),
        min_size=1,
        max_size=3,
    ),
)
def test_fuzz_model_config(work, tmp_path_factory, mutations):
    config = config_of(work / M)
    for key, value in mutations:
        if key == "<top>":
            target, name = config, "config"
        elif key == "<class_name>":
            target, name = config, "class_name"
        else:
            *parents, name = key.split(".")
            target = config["config"] if isinstance(config.get("config"), dict) else {}
            for parent in parents:
                target = target.setdefault(parent, {}) if isinstance(target, dict) else {}
                if not isinstance(target, dict):
                    target = {}
        if not isinstance(target, dict):
            continue
        if value is KeyError:
            target.pop(name, None)
        else:
            target[name] = value
    path = rezip(work / M, tmp_path_factory.mktemp("fuzz") / "m.keras", json.dumps(config).encode())
    for args in (["info", "-m", str(path)], ["info", "-m", str(path), "--json"],
                 ["write", "-m", str(path), "--decoder", "greedy", "--max-len", "8"]):
        result = CliRunner().invoke(main, args)
        event(f"{args[0]} exit {result.exit_code}")
        assert result.exit_code in (0, 2), (args, mutations, result.output, result.exception)
        assert "Traceback" not in result.output
