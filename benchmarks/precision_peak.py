#!/usr/bin/env python
"""``fit --precision``: the machine's own peak in float32 and bfloat16, and training throughput as a share of it.

For each backend (one subprocess each) and architecture:

* **peak** — GFLOP/s of one matrix product of each of the model's training shapes (``[tokens, in] @ [in, out]``: the
  LSTM's input and recurrent gates, the tied head's projection and its ``[embedding, vocab]`` output product),
  through ``keras.ops.matmul`` on that backend, best of ``--repeats``; the table's peak is the best shape's;
* **training** — real (non-pad) characters per second of tangpoet's training step (``PoemModel`` with the run's
  dtype policies, ``compile_for_training``, ``Model.fit`` over ``tangpoet``'s own length-bucketed batches of the
  corpus), the first ``--steps`` batches of epoch 0, after a warm-up batch of every shape (XLA compiles per shape);
* **share of peak** — the model's FLOPs (3 × the forward products per computed token, pad tokens included, as the
  machine computes them) per second over that precision's peak.

fp32 and bf16 run interleaved in one process per backend (round k: fp32 then bf16, the next round the other way
round), so a change in load hits both; the ratio column is the median of the per-round bf16 / fp32 ratios. The
header records the CPU's native bfloat16 flags (``/proc/cpuinfo``), core count and load average.

    python benchmarks/precision_peak.py                                  # every installed backend, both architectures
    python benchmarks/precision_peak.py --backends torch --arch bundled --rounds 3
    python benchmarks/precision_peak.py --batch-size 4 --steps 2 --tokens 256 --rounds 2    # a CPU without bf16: quick
    KERAS_BACKEND=torch python benchmarks/precision_peak.py --kernels-ab --rounds 3         # torch kernels vs Keras, bf16

Architectures: ``bundled`` — the bundled model's (1 × 768 LSTM, embedding 256, tied output through a projection);
``small`` — ``benchmarks/train_throughput.py``'s (1 × 256 LSTM, embedding 128, untied). The vocabulary is the whole
corpus's (Tang: ~7,000 characters, about the bundled model's), the batches from its first ``--poems`` poems.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "tang.txt"
ARCHITECTURES = {
    "bundled": dict(cell="lstm", num_layers=1, units=768, embedding_dim=256, tie_embeddings=True),
    "small": dict(cell="lstm", num_layers=1, units=256, embedding_dim=128, tie_embeddings=False),
}
PRECISIONS = ("fp32", "bf16")


def shapes(arch: dict, vocab: int, tokens: int) -> dict[str, tuple[int, int, int]]:
    """``name -> (m, k, n)`` of the products a training step of ``arch`` runs (forward; backward has the same sizes)."""
    units, emb = arch["units"], arch["embedding_dim"]
    gates = 4 if arch["cell"] == "lstm" else 3
    found = {"input gates": (tokens, emb, gates * units), "recurrent gates": (tokens, units, gates * units)}
    if arch["tie_embeddings"] and units != emb:
        found["projection"] = (tokens, units, emb)
        found["output"] = (tokens, emb, vocab)
    else:
        found["output"] = (tokens, units, vocab)
    return found


def train_flops_per_token(arch: dict, vocab: int) -> float:
    """3 × the forward matrix products' FLOPs per computed token (backward ≈ 2 × forward)."""
    per_layer = lambda k, n: 2 * k * n  # noqa: E731
    units, emb = arch["units"], arch["embedding_dim"]
    gates = 4 if arch["cell"] == "lstm" else 3
    forward = 0.0
    width = emb
    for _ in range(arch["num_layers"]):
        forward += per_layer(width, gates * units) + per_layer(units, gates * units)
        width = units
    if arch["tie_embeddings"] and units != emb:
        forward += per_layer(units, emb) + per_layer(emb, vocab)
    else:
        forward += per_layer(units, vocab)
    return 3 * forward


# ----------------------------------------------------------------------------------------------- worker (one backend)
def worker(args) -> dict:
    import keras
    import numpy as np

    from tangpoet.data.batching import Batches
    from tangpoet.data.corpus import read_corpus
    from tangpoet.data.vocab import Vocabulary
    from tangpoet.model.poem_model import build_model
    from tangpoet.training import precision
    from tangpoet.training.trainer import TrainConfig, compile_for_training

    poems, _ = read_corpus(args.corpus)
    vocab = Vocabulary.build(p.content for p in poems)
    seqs = [vocab.encode(p.content) for p in poems[: args.poems]]
    plan = Batches(seqs, args.batch_size, shuffle=True, seed=0)
    timed = [plan[i] for i in range(min(args.steps, len(plan)))]
    real = sum(int((y != 0).sum()) for _, y in timed)
    computed = sum(int(y.size) for _, y in timed)
    warm = {x.shape: (x, y) for x, y in timed}  # one batch of every shape: XLA compiles per shape

    class Data(keras.utils.PyDataset):
        def __init__(self, items):
            super().__init__(workers=1, use_multiprocessing=False)
            self.items = items

        def __len__(self):
            return len(self.items)

        def __getitem__(self, i):
            return self.items[i]

    result = {"backend": keras.backend.backend(), "vocab": len(vocab), "archs": {}}
    for name in args.arch:
        arch = ARCHITECTURES[name]
        models = {}
        for p in PRECISIONS:
            keras.utils.set_random_seed(0)
            model = build_model(vocab, **arch)
            precision.apply(model, p)
            compile_for_training(model, TrainConfig(**arch))
            model.fit(Data(list(warm.values())), epochs=1, verbose=0, shuffle=False)
            models[p] = model
        train_s = {p: [] for p in PRECISIONS}
        peak = {p: {k: [] for k in shapes(arch, len(vocab), args.tokens)} for p in PRECISIONS}
        for round_number in range(args.rounds):
            order = PRECISIONS if round_number % 2 == 0 else PRECISIONS[::-1]
            for p in order:
                for label, shape in shapes(arch, len(vocab), args.tokens).items():
                    m, k, n = shape
                    seconds = precision.matmul_seconds(shape, {"fp32": "float32", "bf16": "bfloat16"}[p], args.repeats)
                    peak[p][label].append(2 * m * k * n / seconds / 1e9)
                start = time.perf_counter()
                models[p].fit(Data(timed), epochs=1, verbose=0, shuffle=False)
                train_s[p].append(time.perf_counter() - start)
                print(f"  {result['backend']} {name} {p} round {round_number + 1}: {train_s[p][-1]:.2f} s "
                      f"· load {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
        result["archs"][name] = {
            "real_chars": real,
            "computed_tokens": computed,
            "steps": len(timed),
            "flops_per_token": train_flops_per_token(arch, len(vocab)),
            "seconds": train_s,
            "peak_gflops": {p: {k: max(v) for k, v in per.items()} for p, per in peak.items()},
        }
    return result


def kernels_ab(args) -> None:
    """torch, bfloat16: one forward + backward of the masked loss with tangpoet's kernels against Keras' own bfloat16
    path (``TANGPOET_FAST_PATHS`` off), interleaved in this process; prints each and the median ratio."""
    import keras
    import numpy as np

    from tangpoet import kernels
    from tangpoet.data.vocab import Vocabulary
    from tangpoet.model.poem_model import build_model
    from tangpoet.training import precision
    from tangpoet.training.trainer import masked_loss

    vocab = Vocabulary.build(["床前明月光疑是地上霜举头望明月低头思故乡春眠不觉晓处处闻啼鸟"])
    keras.utils.set_random_seed(0)
    model = build_model(vocab, cell="lstm", num_layers=1, units=128, embedding_dim=64, tie_embeddings=True)
    precision.apply(model, "bf16")
    x = np.random.default_rng(0).integers(3, len(vocab), (16, 33)).astype("int32")

    def step():
        masked_loss()(x[:, 1:], model(x[:, :-1], training=True)).backward()

    times = {True: [], False: []}
    for round_number in range(args.rounds):
        for fast in (True, False) if round_number % 2 == 0 else (False, True):
            with kernels.use_fast_paths(fast):
                step()
                start = time.perf_counter()
                step()
                times[fast].append(time.perf_counter() - start)
    ratio = statistics.median(g / f for f, g in zip(times[True], times[False]))
    print(f"torch bf16, 1 x 128 LSTM, batch 16 x 32: kernels {' · '.join(f'{t:.2f}' for t in times[True])} s, "
          f"generic {' · '.join(f'{t:.2f}' for t in times[False])} s, generic / kernels median {ratio:.2f}× "
          f"· load {os.getloadavg()[0]:.1f}")


# ----------------------------------------------------------------------------------------------- driver
def rows(result: dict) -> list[str]:
    out = []
    backend = result["backend"]
    for name, a in result["archs"].items():
        ratios = [f / b for f, b in zip(a["seconds"]["fp32"], a["seconds"]["bf16"])]
        for p in PRECISIONS:
            seconds = min(a["seconds"][p])
            chars = a["real_chars"] / seconds
            achieved = a["computed_tokens"] * a["flops_per_token"] / seconds / 1e9
            peaks = a["peak_gflops"][p]
            best = max(peaks.values())
            ratio = f"**{statistics.median(ratios):.2f}×**" if p == "bf16" else ""
            out.append(
                f"| {backend} | {name} | {p} | {best:,.1f} ({max(peaks, key=peaks.get)}) | {chars:,.0f} | "
                f"{seconds / a['steps'] * 1000:,.0f} | {achieved:,.1f} | {achieved / best:.0%} | {ratio} |"
            )
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    p.add_argument("--backends", default="torch,jax,tensorflow")
    p.add_argument("--arch", default="bundled,small", help="comma-separated: bundled, small")
    p.add_argument("--poems", type=int, default=4000, help="batches from the first N poems (default 4000)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=8, help="timed training steps per run (default 8)")
    p.add_argument("--tokens", type=int, default=3584, help="rows of the peak's products (default 3584 = 64 × 56)")
    p.add_argument("--repeats", type=int, default=3, help="peak: best of N products per shape (default 3)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved fp32/bf16 rounds (default 3)")
    p.add_argument("--json", action="store_true", help="also print the raw results as JSON")
    p.add_argument("--kernels-ab", action="store_true",
                   help="instead: torch's bfloat16 kernels against Keras' own bfloat16 path (run with KERAS_BACKEND=torch)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.arch = [a.strip() for a in args.arch.split(",") if a.strip()]
    if args.kernels_ab:
        os.environ.setdefault("KERAS_BACKEND", "torch")
        kernels_ab(args)
        return 0
    if args.worker:
        print(json.dumps(worker(args)))
        return 0
    from tangpoet.training.precision import cpu_bf16_flags

    flags = ", ".join(cpu_bf16_flags()) or "none"
    print(f"precision peak: cores {os.cpu_count()} · native bf16 flags: {flags} · load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} · batch {args.batch_size} × {args.steps} steps · "
          f"peak rows {args.tokens} · {args.rounds} interleaved rounds", flush=True)
    results = []
    header = ("| backend | arch | precision | peak GFLOP/s (shape) | chars/s | ms/step | model GFLOP/s | share of peak "
              "| bf16 / fp32 chars/s |\n|---|---|---|---|---|---|---|---|---|")
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
        command = [sys.executable, __file__, "--worker", backend, *(argv if argv is not None else sys.argv[1:])]
        done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, cwd=REPO)
        if done.returncode != 0:
            print(f"{backend}: failed (exit {done.returncode})", file=sys.stderr)
            continue
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        # each backend's rows as soon as it is done (a long run cut short keeps what it measured)
        print(f"\n{backend} (load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}):\n{header}")
        print("\n".join(rows(results[-1])), flush=True)
        if args.json:
            print(json.dumps(results[-1]), flush=True)
    if len(results) > 1:
        print(f"\nall backends:\n{header}")
        for result in results:
            print("\n".join(rows(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
