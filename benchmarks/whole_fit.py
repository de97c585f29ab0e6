#!/usr/bin/env python
"""Whole process: ``tangpoet fit`` for one epoch on the first N poems, wall time from the command to the saved file,
against a plain PyTorch script of the same model doing the same work.

Both are fresh processes started here, timed from launch to exit (imports, corpus, vocabulary, compilation,
training, the validation pass and the saved file included). The model is ``train_throughput.py``'s: 1 x 256 LSTM,
embedding 128, batch 64, Adam lr 2e-3 with global clip norm 5, 5 % of the poems held out (tangpoet's split) and
scored once after the epoch. The PyTorch script batches exactly like tangpoet (``tangpoet.batching.Batches``, same
seed, same lengths), trains ``nn.Embedding`` + ``nn.LSTM`` + ``nn.Linear`` and saves a ``state_dict``.

    python benchmarks/whole_fit.py --backends jax          # with the interpreter of an environment that has jax
    python benchmarks/whole_fit.py --poems 4000 --repeat 2

``tangpoet`` runs with the interpreter running this script; the native script with ``--native-python`` (default:
the same), which needs torch and tangpoet.
On JAX the persistent compilation cache (tangpoet/compile_cache.py) is pointed at a fresh folder for the first run
("cold") and reused for a second ("warm", the usual case from the second run on); ``--no-warm`` skips the latter.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
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
from tangpoet.batching import Batches
from tangpoet.corpus import read_corpus
from tangpoet.split import split_poems
from tangpoet.vocab import Vocabulary
corpus, out = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
poems, _ = read_corpus(corpus)
train, val = split_poems(poems, 0.05, 0)
vocab = Vocabulary.build(p.content for p in train)
batches = Batches([vocab.encode(p.content) for p in train], 64, shuffle=True, seed=0)
val_batches = Batches([vocab.encode(p.content) for p in val], 64, shuffle=False)
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
    logits = net(torch.from_numpy(x).long())
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), torch.from_numpy(y).long().reshape(-1), ignore_index=0)
for x, y in batches:
    loss = loss_of(x, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(params, 5.0)
    opt.step()
with torch.no_grad():
    total = sum(float(loss_of(x, y)) * int((y != 0).sum()) for x, y in val_batches)
print("val nll", total / val_batches.real_tokens)
torch.save(net.state_dict(), out)
'''


def run(command, env) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return seconds


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    p.add_argument("--poems", type=int, default=4000, help="the first N lines of the corpus (default: 4000)")
    p.add_argument("--backends", default="jax,tensorflow,torch")
    p.add_argument("--repeat", type=int, default=1, help="runs of each command; the fastest counts")
    p.add_argument("--native-python", default=sys.executable,
                   help="interpreter with torch (and tangpoet) for the plain PyTorch script (default: this one)")
    p.add_argument("--no-warm", action="store_true", help="JAX: skip the run with a warm compilation cache")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="whole_fit."))
    corpus = work / "poems.txt"
    with open(args.corpus, encoding="utf-8") as source:
        corpus.write_text("".join(line for _, line in zip(range(args.poems), source)), encoding="utf-8")
    base = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    print(f"whole process, {args.poems} poems, 1 epoch, best of {args.repeat}; cores {os.cpu_count()} · load "
          f"{os.getloadavg()[0]:.1f}")
    native = None
    has_torch = subprocess.run([args.native_python, "-c", "import torch"], capture_output=True).returncode == 0
    if has_torch:
        native = min(run([args.native_python, "-c", NATIVE, str(corpus), str(work / "native.pt")], base)
                     for _ in range(args.repeat))
        print(f"plain PyTorch script: {native:.1f} s")
    print("| backend | tangpoet fit s | plain PyTorch s | PyTorch / tangpoet |")
    print("|---|---|---|---|")
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        if importlib.util.find_spec(backend) is None:
            continue
        env = dict(base, KERAS_BACKEND=backend, TANGPOET_CACHE_DIR=str(work / f"cache-{backend}"))
        fit = [sys.executable, "-m", "tangpoet", "fit", str(corpus), "--out", str(work / f"{backend}.keras"),
               "--layers", "1", "--units", "256", "--embedding-dim", "128", "--epochs", "1", "--force"]
        kinds = [("", fit)]
        if backend == "jax" and not args.no_warm:
            kinds = [(" (cold compile cache)", fit), (" (warm compile cache)", fit)]
        for label, command in kinds:
            if label.startswith(" (cold"):
                seconds = run(command, env)  # one cold run: it fills the cache
            else:
                seconds = min(run(command, env) for _ in range(args.repeat))
            ratio = f"{native / seconds:.2f}" if native else "-"
            print(f"| {backend}{label} | {seconds:.1f} | {native:.1f} | {ratio} |" if native else
                  f"| {backend}{label} | {seconds:.1f} | - | - |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
