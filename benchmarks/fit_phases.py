#!/usr/bin/env python
"""Where a whole ``tangpoet fit`` process spends its time: py-spy samples the process from launch to exit and each
sample is charged to one phase — importing, reading the corpus, the vocabulary, batching, building the model,
training steps, the epoch end (validation, checkpoint), saving, or other.

    python benchmarks/fit_phases.py --backend torch            # 4,000 poems, 1 epoch, 1 x 256 LSTM (whole_fit's)
    python benchmarks/fit_phases.py --backend jax --epochs 5

Needs ``py-spy`` (``pip install py-spy``; root or ptrace rights). The sampler's own overhead is small (it reads the
process from outside) but the wall time under it is not the benchmark's: use ``whole_fit.py`` for timings and this
for the split.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "tang.txt"

# (phase, substrings of a frame): the first phase with a frame matching any substring, innermost frames first
PHASES = [
    ("save the model file", ("save_model", "write_checkpoint")),
    ("read the corpus", ("read_corpus",)),
    ("vocabulary", ("Vocabulary.build", "build (tangpoet/data/vocab", "encode (tangpoet/data/vocab")),
    ("batching", ("tangpoet/data/batching",)),
    ("validation / epoch end", ("evaluate (tangpoet", "Scorer", "on_epoch_end")),
    ("import", ("_find_and_load",)),
    ("training steps", ("train_step", "train_function", "one_step_on", "multi_step_on", "_step_function")),
    ("build / compile the model", ("build_model", "compile (", "build (keras", "_symbolic_build")),
]


def phase_of(stack: str) -> str:
    for name, needles in PHASES:
        if any(needle in stack for needle in needles):
            return name
    return "other (interpreter start, Keras fit set-up, teardown)"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", default="torch")
    p.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    p.add_argument("--poems", type=int, default=4000)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--rate", type=int, default=50, help="samples per second (default 50)")
    args = p.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        corpus = work / "poems.txt"
        with open(args.corpus, encoding="utf-8") as src:
            corpus.write_text("".join(line for _, line in zip(range(args.poems), src)), encoding="utf-8")
        env = dict(os.environ, KERAS_BACKEND=args.backend, KERAS_HOME=str(work / "keras"),
                   TANGPOET_CACHE_DIR=str(work / "cache"))
        raw = work / "stacks.txt"
        fit = [sys.executable, "-m", "tangpoet", "fit", str(corpus), "--out", str(work / "m.keras"), "--layers", "1",
               "--units", "256", "--embedding-dim", "128", "--batch-size", "64", "--epochs", str(args.epochs),
               "--val-split", "0", "--seed", "0"]
        start = time.perf_counter()
        done = subprocess.run([spy, "record", "--format", "raw", "--rate", str(args.rate), "--subprocesses",
                               "--output", str(raw), "--", *fit], env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(done.stderr[-2000:])
        samples: Counter[str] = Counter()
        for line in raw.read_text(encoding="utf-8").splitlines():
            stack, _, count = line.rpartition(" ")
            if stack.startswith("process") or "(" in stack:
                samples[phase_of(stack)] += int(count)
    total = sum(samples.values()) or 1
    print(f"tangpoet fit, {args.backend}, {args.poems} poems, {args.epochs} epoch(s): {seconds:.1f} s wall under py-spy")
    print(f"{'phase':<56}{'share':>8}{'≈ s':>8}")
    for name, count in samples.most_common():
        print(f"{name:<56}{count / total:>8.1%}{count / total * seconds:>8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
