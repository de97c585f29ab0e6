#!/usr/bin/env python
"""How a step of the model costs with the rows in the batch: the ceiling of what batching requests can give.

Times :meth:`tangpoet.decoding.stepper.StepDecoder.step` (the compiled one-character step that ``tangpoet serve``'s
engine calls once per batch) at several batch sizes on the current backend (``KERAS_BACKEND``), best of
``--repeat`` rounds of ``--calls`` calls, and prints ms per call, ms per row, and for each size N the *ceiling*
``N × ms(1) / ms(N)``: how many times the characters per second of one client N clients could get if serving cost
nothing but the model call. Serving's own per-row work (constraints, sampling, streaming) only lowers it.

    KERAS_BACKEND=jax python benchmarks/step_scaling.py
    KERAS_BACKEND=torch python benchmarks/step_scaling.py --sizes 1,16,64 --model my.keras
"""

from __future__ import annotations

import argparse
import os
import time


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,2,4,8,16,32,64")
    parser.add_argument("--calls", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--model", default=None, help="model file (default: the bundled model)")
    args = parser.parse_args(argv)

    import numpy as np

    from tangpoet.decoding.stepper import StepDecoder
    from tangpoet.model.poem_model import load_model
    from tangpoet.pretrained import default_model_path

    import keras

    stepper = StepDecoder.of(load_model(args.model or default_model_path()))
    sizes = [int(s) for s in args.sizes.split(",")]
    best = {n: float("inf") for n in sizes}
    for _ in range(args.repeat):  # rounds interleaved over the sizes: a load change hits them all alike
        for n in sizes:
            tokens = np.full(n, 4, dtype=np.int32)
            state = stepper.initial_state(n)
            for _ in range(3):  # compile / warm
                stepper.step(tokens, state)
            began = time.perf_counter()
            for _ in range(args.calls):
                stepper.step(tokens, state)
            best[n] = min(best[n], (time.perf_counter() - began) / args.calls * 1000)
    print(f"# backend {keras.backend.backend()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, "
          f"best of {args.repeat} × {args.calls} calls")
    print("| rows | ms per call | ms per row | ceiling N × ms(1) / ms(N) |")
    print("|---|---|---|---|")
    for n in sizes:
        print(f"| {n} | {best[n]:.2f} | {best[n] / n:.3f} | {n * best[sizes[0]] / best[n]:.1f}× |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
