#!/usr/bin/env python
"""Start-up: wall time of ``tangpoet write`` (one poem, the bundled model) against ``python -c "import keras"``.

Per backend (each command a fresh process, ``KERAS_BACKEND`` set; median of ``--runs`` after one untimed run that
warms the OS file cache):

- ``import keras`` — the floor every Keras program pays;
- ``tangpoet write --begin 山 --decoder greedy --seed 1`` — parse, choose the backend, import Keras, load the
  model, compile the step, write one poem, print;
- ``tangpoet info`` — what the CLI costs without Keras.

The goal (issue 5) is write ≤ 1.5 × import keras.

    python benchmarks/startup.py
    python benchmarks/startup.py --backends jax --runs 5 --model my.keras
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import time

BACKENDS = ("jax", "tensorflow", "torch")


def timed(command: list[str], env: dict, runs: int) -> tuple[float, list[float]]:
    subprocess.run(command, env=env, capture_output=True, check=True)  # warm the file cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} failed: {done.stderr.strip()[-500:]}")
    return statistics.median(times), times


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--model", default=None, help="model file (default: the bundled model)")
    args = parser.parse_args(argv)
    python = sys.executable
    tangpoet = [python, "-m", "tangpoet"]
    model = ["--model", args.model] if args.model else []
    print(f"start-up, median of {args.runs} runs (seconds); cores {os.cpu_count()}")
    print("| backend | import keras | tangpoet write | write / import | tangpoet info |")
    print("|---|---|---|---|---|")
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        if importlib.util.find_spec(backend) is None:
            print(f"| {backend} | not installed | | | |")
            continue
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
        bare, _ = timed([python, "-c", "import keras"], env, args.runs)
        write, _ = timed(tangpoet + ["write", *model, "--begin", "山", "--decoder", "greedy", "--seed", "1"], env, args.runs)
        info, _ = timed(tangpoet + ["info", *model], env, args.runs)
        print(f"| {backend} | {bare:.2f} | {write:.2f} | {write / bare:.2f} | {info:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
