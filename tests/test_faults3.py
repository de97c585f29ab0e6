"""Faults, round 3 (issue 37): every input bounded (corpora and poems read as streams, model files, checkpoints and
theme tables refused by what they may hold, a request's work bounded up front) and what a new user trips on.

Each hostile case is built small in ``tmp_path``; where the fault was "read until the kernel kills it", the case runs
in a subprocess under an address-space limit (``RLIMIT_AS``), so before the fix it fails fast instead of eating the
machine. Backend-free cases run on one backend (``@pytest.mark.torch``).
"""

from __future__ import annotations

import json
import os
import resource
import select
import subprocess
import sys
import time
import zipfile
from importlib import resources
from pathlib import Path

import pytest
from _cli_helpers import one_error_line
from click.testing import CliRunner

from tangpoet import limits
from tangpoet.cli import main

PYTHON = sys.executable
JINGYE = "静夜思:床前明月光，疑是地上霜。举头望明月，低头思故乡。"
DENG = "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。"


def _limited(megabytes: int):
    def apply():
        resource.setrlimit(resource.RLIMIT_AS, (megabytes * 2**20, megabytes * 2**20))

    return apply


def tangpoet(args, *, cwd, stdin=None, megabytes=1024, env=None, timeout=120) -> subprocess.CompletedProcess:
    """``python -m tangpoet ARGS`` with its address space limited (a command that reads a device whole dies)."""
    return subprocess.run(
        [PYTHON, "-m", "tangpoet", *args], cwd=cwd, stdin=stdin, capture_output=True, text=True, timeout=timeout,
        preexec_fn=_limited(megabytes), env={**os.environ, **(env or {})},
    )


# ------------------------------------------------------------------------------ §1 corpora and poems are streams


@pytest.mark.torch
@pytest.mark.parametrize(
    "args, stdin, message",
    [
        (["check", "-f", "/dev/zero"], None, "/dev/zero:1: a line longer than 1,048,576 bytes"),
        (["check"], "/dev/zero", "standard input:1: a line longer than 1,048,576 bytes"),
        (["check", "-f", "/dev/urandom"], None, "/dev/urandom is not UTF-8 text"),
        (["eval", "/dev/zero", "-m", "none.keras"], None, "/dev/zero:1: a line longer than 1,048,576 bytes"),
    ],
    ids=["check -f /dev/zero", "check < /dev/zero", "check -f /dev/urandom", "eval /dev/zero"],
)
def test_devices_are_refused_in_bounded_memory(tmp_path, args, stdin, message):
    with open(stdin or os.devnull, "rb") as source:
        result = tangpoet(args, cwd=tmp_path, stdin=source, megabytes=768)
    one_error_line(result, message)


@pytest.mark.torch
def test_a_corpus_line_past_the_bound_is_one_error(tmp_path, monkeypatch):
    from tangpoet.data.corpus import read_corpus
    from tangpoet.errors import CorpusError

    monkeypatch.setattr(limits, "MAX_LINE_BYTES", 1000)
    path = tmp_path / "c.txt"
    path.write_text(JINGYE + "\n" + "春" * 2000 + "\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"c.txt:2: a line longer than 1,000 bytes"):
        read_corpus(path)
    path.write_text((JINGYE + "\n") * 3, encoding="utf-8")  # short lines are read as before, across read blocks
    assert read_corpus(path)[1].read == 3


def test_fit_on_a_device_is_one_error_line(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_LINE_BYTES", 4096)  # in-process: a smaller bound reads less of /dev/zero
    result = CliRunner().invoke(main, ["fit", "/dev/zero", "--out", str(tmp_path / "m.keras"), "--epochs", "1"])
    assert result.exit_code == 2, result.output
    assert "/dev/zero:1: a line longer than 4,096 bytes" in result.output
    assert not list(tmp_path.iterdir())


@pytest.mark.torch
def test_check_a_long_poem_is_linear(tmp_path):
    from tangpoet.checking import check_poems, split_poems

    text = "春 " * 20_000 + "。"  # 20,000 verses of one character: quadratic took ~15 s here
    start = time.process_time()
    report = check_poems(split_poems(text))[0]
    assert time.process_time() - start < 6
    assert len(report.lines()) == 20_001


@pytest.mark.torch
def test_check_a_poem_past_the_bound_is_one_error(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "MAX_CHECK_POEM_CHARS", 500)
    path = tmp_path / "p.txt"
    path.write_text(DENG + "\n\n" + "\n".join([DENG] * 30) + "\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["check", "-f", str(path), "--constraint", "form"])
    assert result.exit_code == 2
    assert "p.txt:23: a poem longer than 500 characters (poems are separated by blank lines)" in result.output


@pytest.mark.torch
def test_check_prints_each_poem_as_it_is_read(tmp_path):
    """Standard input held open: the first reports come out before the input ends."""
    process = subprocess.Popen(
        [PYTHON, "-m", "tangpoet", "check", "--constraint", "form"], cwd=tmp_path, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        process.stdin.write(f"{DENG}\n\n{DENG}\n\n{DENG}\n\n".encode())
        process.stdin.flush()
        ready, _, _ = select.select([process.stdout], [], [], 60)
        assert ready, "nothing printed while the input is still open"
        assert process.stdout.readline().decode().startswith("1. 五言绝句: ok")
    finally:
        process.stdin.close()
        rest = process.stdout.read().decode()
        process.wait(30)
    assert "3. 五言绝句: ok" in rest and process.returncode == 0


@pytest.mark.torch
@pytest.mark.parametrize("streamed", [False, True], ids=["text", "file"])
def test_a_long_title_does_not_merge_a_title_content_file(tmp_path, streamed):
    from tangpoet.checking import read_poems

    lines = [JINGYE, "长" * 45 + ":" + DENG, "登鹳雀楼：" + DENG] * (7 if streamed else 1)  # 21 lines: past 16
    text = "\n".join(lines) + "\n"
    if streamed:
        (tmp_path / "t.txt").write_text(text, encoding="utf-8")
        poems = read_poems(files=[tmp_path / "t.txt"])
    else:
        poems = read_poems([text])
    assert len(poems) == len(lines)
    assert poems[1].title == "长" * 45 and poems[1].text == DENG


@pytest.mark.torch
def test_check_without_the_prosody_plugin_says_tones_and_rhyme_were_not_checked(tmp_path):
    result = tangpoet(["check", JINGYE], cwd=tmp_path, env={"TANGPOET_DISABLE_PLUGINS": "1"})
    assert result.returncode == 0, result.stderr
    head = result.stdout.splitlines()[0]
    assert head == "《静夜思》 五言绝句: ok (form only: tones and rhyme not checked)"
    assert "pip install -e plugins/tangpoet-rhyme" in result.stdout


# ------------------------------------------------------------------------------------- §1 model files


def _rezip(source: Path, target: Path, replace: dict[str, bytes] | None = None, extra: dict[str, bytes] | None = None,
           drop: tuple[str, ...] = ()) -> Path:
    replace = replace or {}
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename not in drop:
                zout.writestr(info.filename, replace.get(info.filename, zin.read(info.filename)))
        for name, data in (extra or {}).items():
            zout.writestr(name, data)
    return target


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory) -> Path:
    from _writing_helpers import tiny_model

    from tangpoet.model.poem_model import save_model

    return save_model(tiny_model("gru", 1), tmp_path_factory.mktemp("model") / "tiny.keras")


def _config(path: Path) -> dict:
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("config.json"))


def _invoke(args):
    result = CliRunner().invoke(main, args)
    assert "Traceback" not in result.output
    return result


def info_and_write_refuse(path, message: str) -> None:
    """``info`` and ``write`` both refuse the model file ``path`` (exit status 2) with ``message``."""
    for command in ("info", "write"):
        result = _invoke([command, "-m", str(path)])
        assert result.exit_code == 2, result.output
        assert message in result.output


@pytest.mark.torch
def test_a_weights_member_larger_than_its_architecture_is_refused_unread(tiny_file, tmp_path):
    # 16 MiB of zeros deflate to 16 KB; the tiny architecture holds a few kilobytes of weights
    bomb = _rezip(tiny_file, tmp_path / "bomb.keras", replace={"model.weights.h5": bytes(16 * 2**20)})
    info_and_write_refuse(bomb, "its weights member inflates to 16,777,216 bytes, more than its architecture can hold")


@pytest.mark.torch
def test_unknown_members_are_refused_before_extraction(tiny_file, tmp_path):
    extra = _rezip(tiny_file, tmp_path / "extra.keras", extra={"assets/x.bin": bytes(2**20)})
    info_and_write_refuse(extra, "it holds 'assets/x.bin', which is not part of a tangpoet model file")


@pytest.mark.torch
@pytest.mark.parametrize(
    "dtype",
    [
        {"module": "keras", "class_name": "__lambda__", "config": {"code": "x", "defaults": None, "closure": None},
         "registered_name": None},
        {"module": "keras.src.utils.torch_utils", "class_name": "TorchModuleWrapper", "config": {"module": "x"},
         "registered_name": "TorchModuleWrapper"},
        "int8",
    ],
    ids=["lambda", "TorchModuleWrapper", "int8"],
)
def test_a_hostile_dtype_is_refused_at_load(tiny_file, tmp_path, dtype):
    config = _config(tiny_file)
    config["config"]["dtype"] = dtype
    path = _rezip(tiny_file, tmp_path / "dtype.keras", replace={"config.json": json.dumps(config).encode()})
    info_and_write_refuse(path, "its dtype is not a dtype policy")


@pytest.mark.torch
def test_the_saved_dtype_policies_still_load(tiny_file, tmp_path):
    config = _config(tiny_file)
    config["config"]["dtype"] = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "mixed_bfloat16"},
                                 "registered_name": None}
    path = _rezip(tiny_file, tmp_path / "ok.keras", replace={"config.json": json.dumps(config).encode()})
    assert _invoke(["info", "-m", str(path)]).exit_code == 0


# ------------------------------------------------------------------------------------------ §1 checkpoints

TINY_FIT = ["--layers", "1", "--units", "8", "--embedding-dim", "4", "--batch-size", "4", "--val-split", "0.25"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, corpus_file) -> Path:
    out = tmp_path_factory.mktemp("ckpt") / "m.keras"
    result = CliRunner().invoke(main, ["fit", str(corpus_file), "--out", str(out), *TINY_FIT, "--epochs", "1"])
    assert result.exit_code == 0, result.output
    return Path(str(out) + ".ckpt")


def _resume(corpus_file, out: Path):
    return _invoke(["fit", str(corpus_file), "--out", str(out), "--resume", "--epochs", "2"])


def _npz(*arrays) -> bytes:
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.savez(buffer, *arrays)
    return buffer.getvalue()


def _state(checkpoint: Path) -> dict:
    with zipfile.ZipFile(checkpoint) as archive:
        return json.loads(archive.read("state.json"))


@pytest.mark.torch
@pytest.mark.parametrize(
    "case, message",
    [
        ("huge state", "its state.json inflates to"),
        ("state a list", "its state.json is not an object"),
        ("epoch a string", "its state.json has an invalid 'epoch'"),
        ("epoch 10**12", "its state.json has an invalid 'epoch'"),
        ("deep state", "its state.json nests too deeply"),
        ("empty optimizer", "its optimizer.npz is damaged or not an array archive"),
        ("huge optimizer", "its optimizer.npz declares arrays of more than"),
        ("object optimizer", "its optimizer.npz holds Python objects"),
        ("extra member", "it holds 'evil.bin', which is not part of a checkpoint"),
    ],
)
def test_a_damaged_or_hostile_checkpoint_is_one_line(checkpoint, corpus_file, tmp_path, monkeypatch, case, message):
    import numpy as np

    state = _state(checkpoint)
    replace, extra = {}, {}
    if case == "huge state":
        monkeypatch.setattr(limits, "MAX_STATE_BYTES", 50_000)
        replace["state.json"] = json.dumps(state).encode() + b" " * 60_000
    elif case == "state a list":
        replace["state.json"] = b"[1, 2]"
    elif case == "epoch a string":
        replace["state.json"] = json.dumps({**state, "epoch": "1"}).encode()
    elif case == "epoch 10**12":
        replace["state.json"] = json.dumps({**state, "epoch": 10**12}).encode()
    elif case == "deep state":
        replace["state.json"] = json.dumps({**state, "lineage_before": []}).encode()[:-1] + b', "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    elif case == "empty optimizer":
        replace["optimizer.npz"] = b""
    elif case == "huge optimizer":
        replace["optimizer.npz"] = _npz(np.zeros(2**20, dtype=np.float64))  # 8 MiB, far past 4 × a tiny model
    elif case == "object optimizer":
        replace["optimizer.npz"] = b""
        import io

        buffer = io.BytesIO()
        np.savez(buffer, np.array([{"a": 1}], dtype=object))
        replace["optimizer.npz"] = buffer.getvalue()
    elif case == "extra member":
        extra["evil.bin"] = b"x"
    out = tmp_path / "m.keras"
    _rezip(checkpoint, Path(str(out) + ".ckpt"), replace=replace, extra=extra)
    result = _resume(corpus_file, out)
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], result.output
    assert "Aborted!" not in result.output


@pytest.mark.torch
def test_an_orphan_temporary_of_a_killed_save_is_removed_on_the_next_run(checkpoint, corpus_file, tmp_path):
    import shutil

    out = tmp_path / "m.keras"
    shutil.copy(checkpoint, str(out) + ".ckpt")
    orphans = [tmp_path / ".m.keras.ckpt.k9x2ab.tmp.keras", tmp_path / ".m.keras.ckpt.k9x2ab.tmp.ckpt",
               tmp_path / ".m.keras.q1w2e3.tmp.keras"]
    for orphan in orphans:
        orphan.write_bytes(b"half a save")
    other = tmp_path / ".other.keras.k9x2ab.tmp.keras"  # another output's: not this run's to remove
    other.write_bytes(b"x")
    result = _resume(corpus_file, out)
    assert result.exit_code == 0, result.output
    assert not any(orphan.exists() for orphan in orphans) and other.exists()
    assert "removed 3 temporary files a stopped save left beside m.keras" in result.output


# ------------------------------------------------------------------------------------------ §1 theme tables


@pytest.mark.torch
@pytest.mark.parametrize("case", ["huge array", "truncated", "deep source", "offsets past the index"])
def test_a_hostile_theme_table_is_one_line(tmp_path, monkeypatch, case):
    import numpy as np

    from tangpoet.decoding.planning import table as tables

    bundled = Path(str(resources.files("tangpoet.decoding.planning").joinpath("data", tables.BUNDLED)))
    path = tmp_path / "t.npz"
    if case == "truncated":
        data = bundled.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        message = "is damaged or not an array archive"
    else:
        with np.load(bundled) as loaded:
            arrays = {k: loaded[k] for k in loaded.files}
        if case == "huge array":
            monkeypatch.setattr(limits, "MAX_TABLE_BYTES", 2**20)  # the bound made small: so is the test
            arrays["index"] = np.zeros(2**18, dtype=np.int64)  # 2 MiB declared, a few KB compressed
            message = "declares arrays of more than 1,048,576 bytes"
        elif case == "deep source":
            arrays["source"] = np.array("[" * 100_000 + "]" * 100_000)
            message = "its source nests too deeply"
        else:
            arrays["offsets"] = arrays["offsets"] + 1
            message = "its offsets and index do not fit its keys and keywords"
        np.savez_compressed(path, **arrays)
    result = _invoke(["write", "--theme", "春", "--theme-table", str(path), "--seed", "1"])
    assert result.exit_code == 2, result.output
    assert message in result.output


# ------------------------------------------------------------------------------- §1 a request's work, up front


@pytest.mark.torch
def test_the_work_a_request_asks_for_is_bounded_up_front(tmp_path):
    from tangpoet.errors import DecoderOptionError
    from tangpoet.writing import write

    request = {"decoder": "sample", "temperature": 2, "candidates": 6, "max_len": 1000, "no_repeat_ngram": 2}
    with pytest.raises(DecoderOptionError, match=r"may take 25,000 model steps .* at most 20,000"):
        write(tmp_path / "never-read.keras", **request)  # refused before the model is even read
    limits.check_work(8, None, True)  # the usual: 8 candidates of a free-verse poem
    limits.check_work(1000, 1000, False)  # 1,000 long poems, 64 at a time


# ------------------------------------------------------------------------------------- §3 what a new user meets


def test_fit_warns_about_a_csv_and_a_small_corpus_and_prints_epoch_1_of_1(tmp_path):
    csv = tmp_path / "poems.csv"
    csv.write_text("".join(f"春晓{n},孟浩然,春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。\n" for n in "一二三四五六七八"),
                   encoding="utf-8")
    result = CliRunner().invoke(main, ["fit", str(csv), "--out", str(tmp_path / "m.keras"), *TINY_FIT, "--epochs", "1"])
    assert result.exit_code == 0, result.output
    assert f"warning: no line of {csv} has a title:content separator" in result.output
    assert "warning: 8 poems are few to train a model from scratch" in result.output and "--from bundled" in result.output
    assert "Epoch 1/1" in result.output  # a one-epoch run has its epoch line like any other


def test_fine_tuning_defaults_to_a_fine_tuning_learning_rate(tmp_path, corpus_file, monkeypatch):
    from tangpoet.training import trainer

    seen = []

    def spy(poems, report, config, *args, **kwargs):
        seen.append(config.lr)
        raise SystemExit(0)

    monkeypatch.setattr(trainer, "train", spy)
    for extra in ([], ["--from", "bundled"]):
        CliRunner().invoke(main, ["fit", str(corpus_file), "--out", str(tmp_path / f"m{len(seen)}.keras"), "--epochs",
                                  "1", *extra])
    assert seen == [2e-3, 3e-4]


@pytest.mark.torch
def test_write_model_bundled_and_unknown_characters_in_order():
    result = CliRunner().invoke(main, ["write", "--model", "bundled", "--begin", "Hello"])
    assert result.exit_code == 2, result.output  # the bundled model was found: the begin text is what is refused
    assert "the model does not know 'H', 'e', 'l', 'o' (in begin 'Hello')" in result.output


@pytest.mark.torch
def test_the_api_says_its_own_num_bound():
    from tangpoet.serve.schemas import ApiError, GenerateRequest

    for num in (0, 17):
        with pytest.raises(ApiError, match=r"at most 16 poems per request \(num from 1 to 16\)"):
            GenerateRequest.model_validate({"num": num}).write_kwargs(1)


@pytest.mark.torch
def test_the_benchmarks_import_no_circle():
    import ast

    folder = Path(__file__).resolve().parents[1] / "benchmarks"
    names = {p.stem for p in folder.glob("*.py")}
    imports = {}
    for path in folder.glob("*.py"):
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module in names:
                found.add(node.module)
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names if alias.name in names}
        imports[path.stem] = found

    def reaches(start, goal, seen=()):
        return any(n == goal or (n not in seen and reaches(n, goal, (*seen, n))) for n in imports.get(start, ()))

    circles = sorted(name for name in imports if reaches(name, name))
    assert circles == [], circles
