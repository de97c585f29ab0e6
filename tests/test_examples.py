"""The example scripts run, on the env's backend, and print what they promise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(script: str) -> str:
    done = subprocess.run([sys.executable, str(EXAMPLES / script)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.slow
def test_register_decoder_example_writes_with_its_in_process_decoder():
    out = run("register_decoder.py").splitlines()
    assert "min-p" in out[0] and "beam" in out[0]
    poems = out[1:]
    assert len(poems) == 3
    for poem in poems:
        lines = poem.split(" / ")
        assert len(lines) == 4 and all(len(line) == 6 for line in lines), poem


@pytest.mark.slow
def test_train_and_write_example_uses_every_builtin_decoder():
    out = run("train_and_write.py")
    for decoder in ("greedy", "sample", "top-k", "top-p", "beam"):
        line = next(l for l in out.splitlines() if l.strip().startswith(f"{decoder}:"))
        assert len(line.split(":", 1)[1].strip().split(" / ")) == 4, line
