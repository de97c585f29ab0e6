#!/usr/bin/env python
"""torch training, tangpoet against the plain loop, interleaved in ONE process: a like-for-like A/B.

``train_throughput.py`` runs every implementation in its own fresh process, which is what a user meets (each side
with its own start-up and environment) but lets this machine's run-to-run swings (±15 %) and each process's own
environment (torch's huge-page allocation, which tangpoet turns on and a plain script does not) into the ratio.
Here tangpoet's ``fit`` epoch (``train_throughput.TangpoetImpl``) and the plain ``nn.LSTM`` loop
(``train_throughput.TorchImpl``) run in the same process, on the same timed batches, alternating which goes first
each round, under the same allocator setting; the figure is the median over rounds of tangpoet's speed over the
plain loop's in that round.

    python benchmarks/torch_ab.py                       # huge pages on for both (what tangpoet sets)
    python benchmarks/torch_ab.py --huge-pages off --rounds 8
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="timed batches per epoch (default: %(default)s)")
    parser.add_argument("--warmup", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--huge-pages", choices=["on", "off"], default="on",
                        help="torch's THP_MEM_ALLOC_ENABLE for both sides (default: on, as tangpoet sets it)")
    args = parser.parse_args(argv)
    if "torch" in sys.modules:
        raise SystemExit("run this as a script: torch must not be imported before the allocator setting")
    os.environ["THP_MEM_ALLOC_ENABLE"] = "1" if args.huge_pages == "on" else "0"
    os.environ["KERAS_BACKEND"] = "torch"
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import train_throughput as tt

    options = tt.parse_args(["--steps", str(args.steps), "--warmup", str(args.warmup), "--backends", "torch"])
    poems, vocab, warm, timed, info = tt.prepare(options)
    tangpoet = tt.TangpoetImpl(options, "torch", vocab, poems)
    native = tt.TorchImpl(options, vocab)
    for impl in (tangpoet, native):
        impl.epoch(warm)  # compile / first-touch every timed length
    seconds = {"tangpoet": [], "native": []}
    for k in range(args.rounds):
        order = [("tangpoet", tangpoet), ("native", native)]
        for name, impl in order if k % 2 == 0 else order[::-1]:
            began = time.perf_counter()
            impl.epoch(timed)
            seconds[name].append(time.perf_counter() - began)
    real = info["timed_real_tokens"]
    ratios = [n / t for t, n in zip(seconds["tangpoet"], seconds["native"])]
    print(f"# torch, one process, huge pages {args.huge_pages} for both, {len(timed)} timed batches "
          f"({real:,} real characters), {args.rounds} rounds alternating the order, load average {os.getloadavg()[0]:.1f}")
    for name, values in seconds.items():
        print(f"{name}: chars/s per round {', '.join(f'{real / s:,.0f}' for s in values)} "
              f"(median {real / statistics.median(values):,.0f})")
    print(f"tangpoet / plain loop per round: {', '.join(f'{r:.3f}' for r in ratios)}; "
          f"median {statistics.median(ratios):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
