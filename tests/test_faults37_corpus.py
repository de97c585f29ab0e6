"""Faults, round 3 (issue 37), the corpus side of ``fit`` / ``eval``:

- ``fit`` checks its options and reads its corpus before Keras (and the backend: seconds, hundreds of MB) is
  imported, so a bad corpus is one line at once: the command runs in a subprocess that records, as it exits, which
  of Keras and the backends it had imported (before the fix: all of its backend, 0.5 GB, ~8 s for ``fit /dev/zero``);
- ``--skip-bad-lines`` on a file whose lines are mostly not UTF-8 (``/dev/urandom``, which never ends; a binary
  file) is refused once bad lines dominate, while a corpus with a handful of bad lines is read with them counted.

Backend-free: each test runs on one backend (``@pytest.mark.torch``).
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import time

import pytest
from _cli_helpers import one_error_line

from tangpoet import limits

pytestmark = pytest.mark.torch

PYTHON = sys.executable
POEMS = [
    "静夜思:床前明月光，疑是地上霜。举头望明月，低头思故乡。",
    "春晓:春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。",
    "登鹳雀楼:白日依山尽，黄河入海流。欲穷千里目，更上一层楼。",
]
HEAVY = ("keras", "torch", "tensorflow", "jax")

# ``python -m tangpoet ARGS``, then (however it exits) the heavy modules it imported, written to $T37_IMPORTED.
_RECORDING_MAIN = f"""
import os, runpy, sys
sys.argv = ["tangpoet", *sys.argv[1:]]
try:
    runpy.run_module("tangpoet", run_name="__main__", alter_sys=True)
finally:
    with open(os.environ["T37_IMPORTED"], "w") as record:
        record.write(",".join(m for m in {HEAVY!r} if m in sys.modules))
"""


def tangpoet(args, tmp_path, timeout=120):
    """Run ``tangpoet ARGS`` in ``tmp_path``: ``(result, seconds, the heavy modules it had imported)``."""
    record = tmp_path / "imported.txt"
    start = time.monotonic()
    result = subprocess.run(
        [PYTHON, "-c", _RECORDING_MAIN, *args], cwd=tmp_path, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "T37_IMPORTED": str(record)},
    )
    seconds = time.monotonic() - start
    imported = [m for m in record.read_text().split(",") if m] if record.exists() else None
    return result, seconds, imported


def _garbage_line(rng: random.Random) -> bytes:
    """A line of random bytes that is not UTF-8 (what --skip-bad-lines skips)."""
    while True:
        line = bytes(rng.getrandbits(8) for _ in range(rng.randint(20, 200))).replace(b"\n", b"")
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            return line


# ------------------------------------------------------------------------- fit refuses before importing Keras


def _corpus(kind, tmp_path):
    if kind == "device":
        return "/dev/zero", "/dev/zero:1: a line longer than 1,048,576 bytes"
    if kind == "missing":
        return "missing.txt", "corpus file not found: missing.txt"
    path = tmp_path / f"{kind}.txt"
    if kind == "empty":
        path.write_bytes(b"")
        return path.name, "no poems left in empty.txt after cleaning (read 0"
    if kind == "binary":
        path.write_bytes(os.urandom(2**16))
        return path.name, "binary.txt:1: not valid UTF-8 (use --skip-bad-lines to skip such lines)"
    path.write_text("a:hello world\nb:12345\n", encoding="utf-8")  # every poem dropped
    return path.name, "no poems left in all_dropped.txt after cleaning (read 2; dropped: 2 bad characters)"


@pytest.mark.parametrize("kind", ["device", "missing", "empty", "binary", "all_dropped"])
def test_fit_refuses_a_bad_corpus_before_keras_is_imported(tmp_path, kind):
    corpus, message = _corpus(kind, tmp_path)
    result, seconds, imported = tangpoet(["fit", corpus, "--out", "m.keras"], tmp_path)
    one_error_line(result, message)
    assert imported == [], f"fit imported {imported} before refusing its corpus"
    assert not (tmp_path / "m.keras").exists()


def test_fit_refuses_a_bad_option_before_the_corpus_and_keras(tmp_path):
    (tmp_path / "c.txt").write_text("\n".join(POEMS) + "\n", encoding="utf-8")
    result, _, imported = tangpoet(["fit", "c.txt", "--out", "m.keras", "--epochs", "0"], tmp_path)
    one_error_line(result, "--epochs must be at least 1")
    assert imported == []


def test_a_misspelt_cell_is_refused_before_keras(tmp_path):
    """`--cell lsmt`: did-you-mean in one line, without importing Keras (it loaded every cell to leave out retired
    ones, which only decoders have: 8+ s and 600 MB for a typo)."""
    (tmp_path / "c.txt").write_text("\n".join(POEMS) + "\n", encoding="utf-8")
    result, _, imported = tangpoet(["fit", "c.txt", "--out", "m.keras", "--cell", "lsmt"], tmp_path)
    one_error_line(result, "unknown cell 'lsmt' (did you mean 'lstm'?)")
    assert imported == []


# ---------------------------------------------------------------- --skip-bad-lines on a file that is not text


@pytest.mark.parametrize("command", ["fit", "eval"])
def test_skip_bad_lines_on_random_bytes_is_refused_at_once(tmp_path, command):
    """4 MiB of random bytes (~16,000 lines, nearly all not UTF-8; /dev/urandom is the endless one): refused after
    about the first 1,000 lines, not read to the end (before the fix: read whole, then "no poems left")."""
    (tmp_path / "random.bin").write_bytes(os.urandom(4 * 2**20))
    args = [command, "random.bin", "--skip-bad-lines"] + (["--out", "m.keras"] if command == "fit" else [])
    result, seconds, imported = tangpoet(args, tmp_path)
    one_error_line(result, "random.bin is not a UTF-8 text corpus: 1,000 of its first ")
    read = int(re.search(r"of its first ([\d,]+) lines", result.stderr).group(1).replace(",", ""))
    assert limits.MIN_BAD_LINES_REFUSED <= read < 2 * limits.MIN_BAD_LINES_REFUSED  # it stopped early
    assert imported == []  # the refusal comes before the model (eval) or Keras (fit) is loaded
    assert seconds < 60


def test_a_corpus_with_a_few_bad_lines_is_read_with_them_counted(tmp_path):
    from tangpoet.data.corpus import UNDECODABLE_LINE, read_corpus

    rng = random.Random(0)
    lines = [poem.encode() for poem in POEMS * 3]
    for index in (0, 4, 9):  # one at the top, two among the poems
        lines.insert(index, _garbage_line(rng))
    path = tmp_path / "c.txt"
    path.write_bytes(b"\n".join(lines) + b"\n")
    poems, report = read_corpus(path, skip_bad_lines=True)
    assert len(poems) == 9 and report.read == 12
    assert report.dropped == {UNDECODABLE_LINE: 3}


def test_the_bound_on_bad_lines(tmp_path):
    """At least MIN_BAD_LINES_REFUSED bad lines and more than half of those read: refused, naming the counts. As
    many bad lines after as many good ones (not more than half): read, every bad line counted."""
    from tangpoet.data.corpus import UNDECODABLE_LINE, read_corpus
    from tangpoet.errors import CorpusError

    rng = random.Random(1)
    n = limits.MIN_BAD_LINES_REFUSED
    garbage = [_garbage_line(rng) for _ in range(n)]
    good = [POEMS[i % 3].encode() for i in range(n)]

    below = tmp_path / "below.txt"
    below.write_bytes(b"\n".join(garbage[:-1] + good[:3]) + b"\n")  # one bad line fewer than the bound: read
    assert read_corpus(below, skip_bad_lines=True)[1].dropped[UNDECODABLE_LINE] == n - 1

    first = tmp_path / "first.txt"
    first.write_bytes(b"\n".join(garbage + good) + b"\n")
    message = f"first.txt is not a UTF-8 text corpus: {n:,} of its first {n:,} lines are not valid UTF-8"
    with pytest.raises(CorpusError, match=re.escape(message)):
        read_corpus(first, skip_bad_lines=True)

    last = tmp_path / "last.txt"
    last.write_bytes(b"\n".join(good + garbage) + b"\n")
    poems, report = read_corpus(last, skip_bad_lines=True)
    assert len(poems) == n and report.dropped[UNDECODABLE_LINE] == n


def test_skip_bad_lines_on_utf16_says_utf16(tmp_path):
    path = tmp_path / "u16.txt"
    path.write_bytes(("\n".join(POEMS * 400) + "\n").encode("utf-16-le"))
    from tangpoet.data.corpus import read_corpus
    from tangpoet.errors import CorpusError

    with pytest.raises(CorpusError, match="u16.txt is not valid UTF-8: it looks like UTF-16"):
        read_corpus(path, skip_bad_lines=True)


def test_the_keras_free_config_names_the_optimizers_the_trainer_builds():
    from tangpoet.training.config import OPTIMIZER_NAMES
    from tangpoet.training.trainer import OPTIMIZERS, TrainConfig

    assert tuple(OPTIMIZERS) == OPTIMIZER_NAMES
    assert TrainConfig.__module__ == "tangpoet.training.config"
