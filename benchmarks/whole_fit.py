#!/usr/bin/env python
"""Whole process: ``tangpoet fit`` on the first N poems, wall time from the command to the saved file, against plain
PyTorch scripts of the same model doing the same work — interleaved rounds, min / median / max.

Every command is a fresh process started here, timed from launch to exit (imports, corpus, vocabulary, compilation,
training and the saved file included). The model is ``train_throughput.py``'s: 1 x 256 LSTM, embedding 128, batch 64,
Adam lr 2e-3 with global clip norm 5; by default no validation (``--val-split 0``), as a user's first fit in the issue.
Two plain PyTorch references train ``nn.Embedding`` + ``nn.LSTM`` + ``nn.Linear`` and save a ``state_dict``:

* **bucketed** — the script a PyTorch user writes: poems sorted by length, cut into batches of 64, the batch order
  shuffled, each batch padded to its own longest poem (~0 % padding, no compiled shapes to care about);
* **same batches** — ``tangpoet.data.batching.Batches``, exactly tangpoet's batches (so the difference is the framework).

Each round runs the bucketed script, then each backend's ``tangpoet fit`` (JAX twice: a fresh compile-cache folder,
"cold", then the same folder again, "warm"), then the same-batches script; a round's ratio is the bucketed script's
time over tangpoet's. The table shows min / median / max seconds and the median of the per-round ratios.

    python benchmarks/whole_fit.py --backends torch,jax,tensorflow --rounds 3
    python benchmarks/whole_fit.py --poems 4000 --epochs 5 --rounds 3
    python benchmarks/whole_fit.py --backends torch --bf16 torch --rounds 3    # + a `fit --precision bf16` row

The backends' rows run ``fit`` as a user's first fit does, with the default ``--precision auto`` (bfloat16 only on a
CPU with native bfloat16 instructions where the backend measures faster with it; the run says which); ``--bf16 B,...``
adds a row per backend named with ``--precision bf16`` forced, and one with ``--precision fp32`` forced beside it.

``tangpoet`` runs with the interpreter running this script (``--python-for B=PATH`` for another environment); the
native scripts with ``--native-python`` (default: the same), which needs torch and tangpoet.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "tang.txt"

NATIVE = r'''
import sys, time
import numpy as np, torch, torch.nn.functional as F
from torch import nn
from tangpoet.data.corpus import read_corpus
from tangpoet.data.split import split_poems
from tangpoet.data.vocab import Vocabulary
corpus, out, epochs, val_split, bucketed = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5] == "1"
torch.manual_seed(0)
poems, _ = read_corpus(corpus)
train, val = split_poems(poems, val_split, 0)
vocab = Vocabulary.build(p.content for p in train)
seqs = [vocab.encode(p.content) for p in train]
def shifted(ids):
    return np.concatenate([[2], ids]), np.concatenate([ids, [3]])
def pad(rows):
    n = max(len(r) for r in rows)
    out = np.zeros((len(rows), n), dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out
def bucketed_batches(seqs, epoch, shuffle=True):
    rng = np.random.default_rng((0, epoch))
    order = np.argsort([len(s) for s in seqs], kind="stable")
    chunks = [order[i : i + 64] for i in range(0, len(order), 64)]
    if shuffle:
        chunks = [chunks[i] for i in rng.permutation(len(chunks))]
    for chunk in chunks:
        pairs = [shifted(seqs[i]) for i in chunk]
        yield pad([p[0] for p in pairs]), pad([p[1] for p in pairs])
if bucketed:
    epoch_batches = lambda epoch: bucketed_batches(seqs, epoch)
else:
    from tangpoet.data.batching import Batches
    same = Batches(seqs, 64, shuffle=True, seed=0)
    def epoch_batches(epoch):
        same.set_epoch(epoch)
        return iter(same)
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(len(vocab), 128)
        self.lstm = nn.LSTM(128, 256, batch_first=True)
        self.head = nn.Linear(256, len(vocab))
    def forward(self, tokens):
        return self.head(self.lstm(self.embedding(tokens))[0])
net = Net()
params = list(net.parameters())
opt = torch.optim.Adam(params, lr=2e-3, eps=1e-7)
def loss_of(x, y):
    logits = net(torch.as_tensor(x).long())
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), torch.as_tensor(y).long().reshape(-1), ignore_index=0)
for epoch in range(epochs):
    for x, y in epoch_batches(epoch):
        loss = loss_of(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
if val:
    with torch.no_grad():
        vs = [vocab.encode(p.content) for p in val]
        total = sum(float(loss_of(x, y)) * int((y != 0).sum()) for x, y in bucketed_batches(vs, 0, shuffle=False))
    print("val nll", total / sum(len(s) + 1 for s in vs))
torch.save(net.state_dict(), out)
'''


def run(command, env) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return seconds


def spread(values) -> str:
    return f"{min(values):.1f} / {statistics.median(values):.1f} / {max(values):.1f}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    p.add_argument("--poems", type=int, default=4000, help="the first N lines of the corpus (default: 4000)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--val-split", type=float, default=0.0, help="held-out share, scored after training (default 0)")
    p.add_argument("--backends", default="torch,jax,tensorflow")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    p.add_argument("--native-python", default=sys.executable,
                   help="interpreter with torch (and tangpoet) for the plain PyTorch scripts (default: this one)")
    p.add_argument("--python-for", action="append", default=[], metavar="BACKEND=PATH",
                   help="the interpreter for one backend's tangpoet (default: this one)")
    p.add_argument("--no-warm", action="store_true", help="JAX: skip the run with a warm compilation cache")
    p.add_argument("--bf16", default="", metavar="B,...",
                   help="backends that also run with --precision bf16 and --precision fp32 forced (default: none)")
    p.add_argument("--no-same-batches", action="store_true", help="skip the same-batches PyTorch script")
    args = p.parse_args(argv)
    pythons = dict(item.split("=", 1) for item in args.python_for)
    work = Path(tempfile.mkdtemp(prefix="whole_fit."))
    corpus = work / "poems.txt"
    with open(args.corpus, encoding="utf-8") as source:
        corpus.write_text("".join(line for _, line in zip(range(args.poems), source)), encoding="utf-8")
    base = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    print(f"whole process, {args.poems} poems, {args.epochs} epoch(s), val split {args.val_split}, "
          f"{args.rounds} interleaved rounds; cores {os.cpu_count()} · load {os.getloadavg()[0]:.1f}")
    native_args = [str(args.epochs), str(args.val_split)]
    commands = [("plain PyTorch, bucketed", None, [args.native_python, "-c", NATIVE, str(corpus),
                                                   str(work / "native.pt"), *native_args, "1"])]
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        python = pythons.get(backend, sys.executable)
        if python == sys.executable and importlib.util.find_spec(backend) is None:
            continue
        fit = [python, "-m", "tangpoet", "fit", str(corpus), "--out", str(work / f"{backend}.keras"), "--layers", "1",
               "--units", "256", "--embedding-dim", "128", "--epochs", str(args.epochs), "--val-split",
               str(args.val_split), "--force"]
        if backend == "jax":
            commands.append((f"tangpoet {backend}, cold compile cache", backend, fit))
            if not args.no_warm:
                commands.append((f"tangpoet {backend}, warm compile cache", backend, fit))
        else:
            commands.append((f"tangpoet {backend}", backend, fit))
        if backend in args.bf16.split(","):  # fit --precision: bfloat16 compute, and float32 forced beside it
            for forced in ("fp32", "bf16"):
                commands.append((f"tangpoet {backend}, --precision {forced}", backend, [*fit, "--precision", forced]))
    if not args.no_same_batches:
        commands.append(("plain PyTorch, tangpoet's batches", None,
                         [args.native_python, "-c", NATIVE, str(corpus), str(work / "same.pt"), *native_args, "0"]))
    times = {label: [] for label, _, _ in commands}
    for round_number in range(args.rounds):
        for label, backend, command in commands:
            env = dict(base)
            if backend:
                cache = work / f"cache-{backend}-{round_number}"  # cold: a new folder each round; warm: reused
                env.update(KERAS_BACKEND=backend, TANGPOET_CACHE_DIR=str(cache))
            times[label].append(run(command, env))
        print(f"round {round_number + 1}: " + " · ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()), flush=True)
    reference = times["plain PyTorch, bucketed"]
    print("\n| command | seconds min / median / max | bucketed PyTorch / this, per round | median |")
    print("|---|---|---|---|")
    for label, values in times.items():
        ratios = [r / v for r, v in zip(reference, values)]
        print(f"| {label} | {spread(values)} | {' · '.join(f'{r:.2f}' for r in ratios)} | "
              f"**{statistics.median(ratios):.2f}** |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
