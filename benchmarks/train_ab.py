#!/usr/bin/env python
"""Training, tangpoet against the plain loop of the same backend, interleaved in ONE process: a like-for-like A/B.

``train_throughput.py`` runs every implementation in its own fresh process, which is what a user meets (each side
with its own start-up and environment) but lets this machine's run-to-run swings (±15 %) and each process's own
environment (torch's huge-page allocation, which tangpoet turns on and a plain script does not) into the ratio.
Here tangpoet's ``fit`` epoch (``train_throughput.TangpoetImpl``) and the plain loop (``train_throughput.TorchImpl``:
``nn.LSTM``; ``JaxImpl``: a jitted ``lax.scan`` LSTM with hand-written Adam; ``KerasFunctionalImpl``: a plain
functional Keras model with ``train_on_batch`` on TensorFlow) run in the same process, on the same
timed batches, rotating which goes first each round, under the same allocator setting; the figure is the median
over rounds of tangpoet's speed over the plain loop's in that round. ``--generic`` adds tangpoet with its fast paths
off (``tangpoet/kernels`` unused: Keras' own layers and loss), which shows what the kernels bring.

    python benchmarks/train_ab.py                           # torch, huge pages on for both (what tangpoet sets)
    python benchmarks/train_ab.py --huge-pages off --rounds 8
    python benchmarks/train_ab.py --backend jax --generic
    python benchmarks/train_ab.py --backend tensorflow --generic   # on jax/tensorflow generic is the same training code
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=["torch", "jax", "tensorflow"], default="torch")
    parser.add_argument("--steps", type=int, default=20, help="timed batches per epoch (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--generic", action="store_true", help="also tangpoet with its fast paths off")
    parser.add_argument("--huge-pages", choices=["on", "off"], default="on",
                        help="torch's THP_MEM_ALLOC_ENABLE for both sides (default: on, as tangpoet sets it)")
    args = parser.parse_args(argv)
    if args.backend in sys.modules or "keras" in sys.modules:
        raise SystemExit("run this as a script: the backend must not be imported before its settings")
    if args.backend == "torch":
        os.environ["THP_MEM_ALLOC_ENABLE"] = "1" if args.huge_pages == "on" else "0"
    os.environ["KERAS_BACKEND"] = args.backend
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import train_throughput as tt

    from tangpoet.kernels import use_fast_paths

    options = tt.parse_args(["--steps", str(args.steps), "--warmup", str(args.warmup), "--backends", args.backend])
    poems, vocab, warm, timed, info = tt.prepare(options)
    native_impl = {"torch": tt.TorchImpl, "jax": tt.JaxImpl, "tensorflow": tt.KerasFunctionalImpl}[args.backend]
    impls = {"tangpoet": (tt.TangpoetImpl(options, args.backend, vocab, poems), contextlib.nullcontext)}
    if args.generic:
        impls["generic"] = (tt.TangpoetImpl(options, args.backend, vocab, poems), lambda: use_fast_paths(False))
    impls["native"] = (native_impl(options, vocab), contextlib.nullcontext)
    for impl, context in impls.values():
        with context():
            impl.epoch(warm)  # compile / first-touch every timed length
    seconds = {name: [] for name in impls}
    names = list(impls)
    for k in range(args.rounds):
        for name in names[k % len(names):] + names[: k % len(names)]:
            impl, context = impls[name]
            with context():
                began = time.perf_counter()
                impl.epoch(timed)
                seconds[name].append(time.perf_counter() - began)
    real = info["timed_real_tokens"]
    setting = f", huge pages {args.huge_pages} for both" if args.backend == "torch" else ""
    print(f"# {args.backend}, one process{setting}, {len(timed)} timed batches ({real:,} real characters), "
          f"{args.rounds} rounds rotating the order, load average {os.getloadavg()[0]:.1f}")
    for name, values in seconds.items():
        print(f"{name}: chars/s per round {', '.join(f'{real / s:,.0f}' for s in values)} "
              f"(median {real / statistics.median(values):,.0f})")
    for name in [n for n in names if n != "native"]:
        ratios = [n / t for t, n in zip(seconds[name], seconds["native"])]
        print(f"{name} / plain loop per round: {', '.join(f'{r:.3f}' for r in ratios)}; "
              f"median {statistics.median(ratios):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
