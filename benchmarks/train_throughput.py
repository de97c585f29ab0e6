#!/usr/bin/env python
"""Training throughput: tangpoet's real training path vs a plain native loop of the same size, per backend.

For every backend (``--backends``, default: all installed) this measures real (non-pad) characters per second of

* **tangpoet** — a :class:`~tangpoet.model.poem_model.PoemModel` compiled by ``tangpoet.training.trainer.compile_for_training`` (Adam with global
  clip norm, masked cross-entropy) and driven by ``model.fit`` over ``tangpoet.training.trainer.epoch_input`` — the same
  input that ``tangpoet fit`` hands to ``fit`` (a PyDataset; on TensorFlow a tf.data dataset) — restricted to the timed batches;
* **generic** — the same as tangpoet with ``TANGPOET_FAST_PATHS=0`` (Keras' own recurrent layers: what the
  fast paths in ``tangpoet/kernels`` gain);
* **native** — the same model size written directly for the backend:

  - torch: ``nn.Embedding`` + ``nn.LSTM(batch_first=True)`` + ``nn.Linear``, ``torch.optim.Adam``,
    ``clip_grad_norm_``, ``F.cross_entropy(ignore_index=0)``;
  - tensorflow: a plain functional Keras model (Embedding → LSTM(return_sequences) → Dense) trained with
    ``train_on_batch`` and the same masked loss / optimizer settings;
  - jax: a ``jax.lax.scan`` LSTM with the input projection hoisted out of the scan, the whole train step under
    ``jax.jit``, hand-written Adam with global-norm clipping (no optax).

Both see exactly the same batches in the same order: the epoch-0 plan of ``tangpoet.data.batching.Batches`` (length
bucketed, shuffled, padded by ``tangpoet.data.batching.padded_length``) over the training split that ``tangpoet fit`` would use. Timed
batches are batches ``warmup .. warmup+steps-1`` of that plan. Warm-up runs batches ``0 .. warmup-1`` *plus* one
batch of every padded length that occurs in the timed batches and not in those, so that JIT compilation (XLA per
shape on JAX, tf.function retracing on TensorFlow) happens during warm-up and the timed steps measure steady state.

Every (backend, implementation) pair runs in its own fresh subprocess, one after another, so that peak RSS
(``ru_maxrss``) is per implementation, and the native torch/JAX runs never import Keras. Threads are not pinned.

    python benchmarks/train_throughput.py                       # all installed backends, defaults
    python benchmarks/train_throughput.py --impls tangpoet,native   # skip the generic (fast paths off) run
    python benchmarks/train_throughput.py --backends torch --steps 20 --warmup 5
    python benchmarks/train_throughput.py --json > results.json # JSON on stdout, the table on stderr
    python benchmarks/train_throughput.py --backends jax,tensorflow --impls tangpoet --devices 2

``--devices N`` runs tangpoet (and generic) data parallel (``fit --data-parallel``) over N *virtual CPU devices*
(JAX ``--xla_force_host_platform_device_count``, TensorFlow logical CPU devices); the native references stay on one
device. The devices share the same cores, so on a CPU machine this measures the overhead of the distributed step
(splitting, replicated variables, the gradient all-reduce), not a speed-up.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "data" / "tang.txt"
BACKENDS = ("jax", "tensorflow", "torch")
IMPLS = ("tangpoet", "native", "generic")  # generic: tangpoet with TANGPOET_FAST_PATHS=0
RESULT_MARK = "@@train_throughput@@ "
PAD_ID = 0  # tangpoet.data.vocab.PAD_ID; checked in the tangpoet worker


# ------------------------------------------------------------------------------------------------- data
def subset(batches, indices):
    """A shallow copy of ``batches`` whose plan is just ``indices`` of the original plan, in that order."""
    import copy

    view = copy.copy(batches)
    view.batches = [batches.batches[i] for i in indices]
    return view


def prepare(args):
    """Corpus → vocabulary → Batches, exactly as ``tangpoet fit`` does with default options (val split 0.05)."""
    from tangpoet.data.batching import Batches
    from tangpoet.data.corpus import read_corpus
    from tangpoet.data.split import split_poems
    from tangpoet.data.vocab import Vocabulary

    t0 = time.perf_counter()
    poems, report = read_corpus(args.corpus)
    train_poems, _ = split_poems(poems, args.val_split, args.seed)
    vocab = Vocabulary.build(p.content for p in train_poems)
    seqs = [vocab.encode(p.content) for p in train_poems]
    batches = Batches(seqs, args.batch_size, shuffle=True, seed=args.seed)
    n_plan = len(batches)
    if args.warmup + args.steps > n_plan:
        raise SystemExit(f"--warmup + --steps = {args.warmup + args.steps} exceeds the {n_plan} batches of an epoch")

    def padded_length(i):
        from tangpoet.data.batching import padded_length as rounded

        return rounded(int(batches.lengths[batches.batches[i]].max()), batches.pad_multiple)

    timed_idx = list(range(args.warmup, args.warmup + args.steps))
    warm_idx = list(range(args.warmup))
    seen = {padded_length(i) for i in warm_idx}
    needed = {padded_length(i) for i in timed_idx} - seen
    for i in range(args.warmup + args.steps, n_plan):  # one later batch of each length not yet warmed up
        if not needed:
            break
        length = padded_length(i)
        if length in needed:
            warm_idx.append(i)
            needed.discard(length)
    for i in timed_idx:  # a length that occurs only in the timed batches: warm up on that batch itself
        length = padded_length(i)
        if length in needed:
            warm_idx.append(i)
            needed.discard(length)
    timed = subset(batches, timed_idx)
    real = padded = 0
    for i in range(len(timed)):
        _, targets = timed[i]
        real += int((targets != PAD_ID).sum())
        padded += int(targets.size)
    info = {
        "poems": len(poems),
        "train_poems": len(train_poems),
        "vocab": len(vocab),
        "batches_per_epoch": n_plan,
        "timed_real_tokens": real,
        "timed_padded_tokens": padded,
        "timed_lengths": sorted({padded_length(i) for i in timed_idx}),
        "warmup_steps": len(warm_idx),
        "prepare_s": time.perf_counter() - t0,
    }
    return poems, vocab, subset(batches, warm_idx), timed, info


# ------------------------------------------------------------------------------------------------- workers
# Each implementation is an object with ``epoch(batches) -> (mean loss, [wall-clock time at the end of each step])``
# plus ``params`` and ``versions``. Every implementation waits for each step's result before the next one starts:
# the native loops read the loss, and tangpoet's ``fit`` gets a per-batch callback, which (like the progress bar that
# ``tangpoet fit`` shows) makes Keras fetch the logs after every batch.
class TangpoetImpl:
    def __init__(self, args, backend, vocab, poems):
        os.environ["KERAS_BACKEND"] = backend
        from tangpoet.backend import ensure_backend

        ensure_backend(backend)
        if args.devices and backend == "tensorflow":  # logical CPU devices: before TensorFlow starts
            import tensorflow as tf

            cpu = tf.config.list_physical_devices("CPU")[0]
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * args.devices)
        import keras

        from tangpoet.training import distribute

        self.placement = distribute.plan(bool(args.devices))  # --devices: data parallel, as fit --data-parallel
        self._scope = distribute.activate(self.placement)  # kept: the model, its optimizer and fit run inside it
        self._scope.__enter__()

        from tangpoet.training import trainer as training
        from tangpoet.data import vocab as vocab_module
        from tangpoet.model.poem_model import build_model

        assert vocab_module.PAD_ID == PAD_ID

        config = training.TrainConfig(
            cell="lstm",
            num_layers=1,
            units=args.units,
            embedding_dim=args.embedding_dim,
            tie_embeddings=args.tie_embeddings,
            dropout=0.0,
            batch_size=args.batch_size,
            lr=args.lr,
            clip_norm=args.clip_norm,
            seed=args.seed,
        )
        keras.utils.set_random_seed(config.seed)
        self.model = build_model(vocab, **config.architecture())
        training.compile_for_training(self.model, config)  # exactly what train() does
        self.training = training
        self.params = int(self.model.count_params())
        self.versions = {"keras": keras.__version__, backend: _module_version(backend)}

        class Clock(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.ends = []

            def on_train_batch_end(self, batch, logs=None):
                self.ends.append(time.perf_counter())

        self.clock = Clock()
        self.extra_devices = {"devices": self.placement.devices, "replicas": self.placement.replicas}

    def epoch(self, batches):
        batches.row_multiple = self.placement.replicas  # filler rows where a batch does not split evenly
        # shuffle=False: ``train()`` leaves fit's default shuffle=True, which makes Keras re-shuffle the order of the
        # PyDataset's batches with Python's ``random``; here the native loop must see the same batches in the same
        # order. The timed batches and their cost are the same either way, only their order differs.
        history = self.model.fit(
            self.training.epoch_input(batches), epochs=1, verbose=0, shuffle=False, callbacks=[self.clock]
        )
        self.extra = {"jit_compile": bool(self.model.jit_compile), **self.extra_devices}
        return float(history.history["loss"][-1]), self.clock.ends


class TorchImpl:
    def __init__(self, args, vocab):
        import torch
        import torch.nn.functional as F
        from torch import nn

        torch.manual_seed(args.seed)
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.embedding = nn.Embedding(len(vocab), args.embedding_dim)
                self.lstm = nn.LSTM(args.embedding_dim, args.units, batch_first=True)
                self.head = nn.Linear(args.units, len(vocab))

            def forward(self, tokens):
                out, _ = self.lstm(self.embedding(tokens))
                return self.head(out)

        net = Net().to(device)
        params = list(net.parameters())
        optimizer = torch.optim.Adam(params, lr=args.lr, eps=1e-7)  # Keras' default epsilon

        def step(inputs, targets):
            inputs = torch.from_numpy(inputs).to(device, torch.long)
            targets = torch.from_numpy(targets).to(device, torch.long)
            logits = net(inputs)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=PAD_ID)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(params, args.clip_norm)
            optimizer.step()
            return loss.item()

        self.step = step
        self.params = sum(p.numel() for p in params)  # nn.LSTM has two bias vectors: 4*units more than Keras
        self.versions = {"torch": torch.__version__}
        self.extra = {"torch_threads": torch.get_num_threads(), "device": str(device)}

    def epoch(self, batches):
        losses, ends = [], []
        for i in range(len(batches)):
            losses.append(self.step(*batches[i]))
            ends.append(time.perf_counter())
        return sum(losses) / len(losses), ends


class KerasFunctionalImpl:
    """The TensorFlow reference: a plain functional Keras model with ``train_on_batch``."""

    def __init__(self, args, vocab):
        os.environ["KERAS_BACKEND"] = "tensorflow"
        import keras

        keras.utils.set_random_seed(args.seed)
        tokens = keras.Input(shape=(None,), dtype="int32")
        x = keras.layers.Embedding(len(vocab), args.embedding_dim)(tokens)
        x = keras.layers.LSTM(args.units, return_sequences=True)(x)
        self.model = keras.Model(tokens, keras.layers.Dense(len(vocab))(x))
        self.model.compile(
            optimizer=keras.optimizers.Adam(learning_rate=args.lr, global_clipnorm=args.clip_norm),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=PAD_ID),
        )
        self.params = int(self.model.count_params())
        self.versions = {"keras": keras.__version__, "tensorflow": _module_version("tensorflow")}
        self.extra = {}

    def epoch(self, batches):
        losses, ends = [], []
        for i in range(len(batches)):
            losses.append(float(self.model.train_on_batch(*batches[i])))
            ends.append(time.perf_counter())
        return sum(losses) / len(losses), ends


class JaxImpl:
    """``lax.scan`` LSTM (input projection hoisted out of the scan), jitted train step, hand-written Adam."""

    def __init__(self, args, vocab):
        import jax
        import jax.numpy as jnp
        import numpy as np

        V, E, H = len(vocab), args.embedding_dim, args.units
        lr, clip, b1, b2, eps = args.lr, args.clip_norm, 0.9, 0.999, 1e-7  # Keras' Adam defaults
        tree_map = jax.tree_util.tree_map

        def glorot(key, shape):
            limit = float(np.sqrt(6.0 / (shape[0] + shape[1])))
            return jax.random.uniform(key, shape, jnp.float32, -limit, limit)

        k = jax.random.split(jax.random.PRNGKey(args.seed), 4)
        params = {
            "embedding": jax.random.uniform(k[0], (V, E), jnp.float32, -0.05, 0.05),
            "w_x": glorot(k[1], (E, 4 * H)),
            "w_h": glorot(k[2], (H, 4 * H)),
            "b": jnp.zeros((4 * H,), jnp.float32).at[H : 2 * H].set(1.0),  # gates i f g o; unit forget bias
            "w_out": glorot(k[3], (H, V)),
            "b_out": jnp.zeros((V,), jnp.float32),
        }

        def loss_fn(p, tokens, targets):
            batch, length = tokens.shape
            x = jnp.take(p["embedding"], tokens.T, axis=0)  # [T, B, E]
            xw = x @ p["w_x"] + p["b"]  # the input projection for all steps at once

            def cell(carry, xw_t):
                h, c = carry
                i, f, g, o = jnp.split(xw_t + h @ p["w_h"], 4, axis=-1)
                c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
                h = jax.nn.sigmoid(o) * jnp.tanh(c)
                return (h, c), h

            zeros = jnp.zeros((batch, H), jnp.float32)
            _, hs = jax.lax.scan(cell, (zeros, zeros), xw)  # [T, B, H]
            logits = hs.reshape(length * batch, H) @ p["w_out"] + p["b_out"]  # a plain 2-D matmul: fastest on CPU
            labels = targets.T.reshape(-1)
            nll = jax.nn.logsumexp(logits, axis=-1) - jnp.take_along_axis(logits, labels[:, None], axis=-1)[:, 0]
            mask = (labels != PAD_ID).astype(jnp.float32)
            return jnp.sum(nll * mask) / jnp.maximum(jnp.sum(mask), 1.0)

        @jax.jit
        def train_step(p, m, v, t, tokens, targets):
            loss, grads = jax.value_and_grad(loss_fn)(p, tokens, targets)
            norm = jnp.sqrt(sum(jnp.sum(g * g) for g in jax.tree_util.tree_leaves(grads)))
            grads = tree_map(lambda g: g * jnp.minimum(1.0, clip / jnp.maximum(norm, 1e-12)), grads)
            t = t + 1
            m = tree_map(lambda m, g: b1 * m + (1 - b1) * g, m, grads)
            v = tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, v, grads)
            alpha = lr * jnp.sqrt(1 - b2**t) / (1 - b1**t)
            p = tree_map(lambda p, m, v: p - alpha * m / (jnp.sqrt(v) + eps), p, m, v)
            return p, m, v, t, loss

        self.train_step = train_step
        self.state = [params, tree_map(jnp.zeros_like, params), tree_map(jnp.zeros_like, params), jnp.zeros(())]
        self.params = int(sum(x.size for x in jax.tree_util.tree_leaves(params)))
        self.versions = {"jax": jax.__version__, "jaxlib": _module_version("jaxlib")}
        self.extra = {"device": str(jax.devices()[0])}

    def epoch(self, batches):
        losses, ends = [], []
        for i in range(len(batches)):
            *self.state, loss = self.train_step(*self.state, *batches[i])
            losses.append(float(loss))  # waits for the step
            ends.append(time.perf_counter())
        return sum(losses) / len(losses), ends


def _module_version(name):
    try:
        return getattr(__import__(name), "__version__", "?")
    except ImportError:
        return "?"


def cpu_snapshot():
    """(wall, machine-wide busy CPU seconds, this process's CPU seconds)."""
    import resource

    busy = float("nan")
    try:
        with open("/proc/stat") as handle:
            fields = [int(v) for v in handle.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        busy = (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")  # user..steal, without guest (counted in user)
    except (OSError, ValueError, IndexError):
        pass
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return time.perf_counter(), busy, usage.ru_utime + usage.ru_stime


def worker(args):
    import resource
    import statistics

    backend, impl_name = args.worker.split(":")
    poems, vocab, warm, timed, info = prepare(args)
    tag = f"[{backend}/{impl_name}]"
    print(f"{tag} {len(warm)} warm-up + {len(timed)} timed steps, lengths {info['timed_lengths']}", file=sys.stderr,
          flush=True)
    t0 = time.perf_counter()
    if impl_name in ("tangpoet", "generic"):
        impl = TangpoetImpl(args, backend, vocab, poems)
    else:
        impl = {"torch": TorchImpl, "tensorflow": KerasFunctionalImpl, "jax": JaxImpl}[backend](args, vocab)
    setup_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    impl.epoch(warm)
    warm_s = time.perf_counter() - t0

    before = cpu_snapshot()
    mean_loss, ends = impl.epoch(timed)
    after = cpu_snapshot()
    timed_s = after[0] - before[0]
    n_steps = len(ends)
    step_ms = [1000.0 * (b - a) for a, b in zip([before[0], *ends[:-1]], ends)]
    own_cpu = after[2] - before[2]
    ncpu = os.cpu_count() or 1
    others = max(0.0, (after[1] - before[1]) - own_cpu) / (timed_s * ncpu)

    result = dict(info)
    result.update(
        backend=backend,
        impl=impl_name,
        steps=n_steps,
        setup_s=setup_s,
        warmup_s=warm_s,
        timed_s=timed_s,
        chars_per_s=info["timed_real_tokens"] / timed_s,
        ms_per_step=1000.0 * timed_s / n_steps,
        median_step_ms=statistics.median(step_ms),
        max_step_ms=max(step_ms),
        step_ms=[round(ms, 1) for ms in step_ms],
        own_cpu_cores=own_cpu / timed_s,  # average cores this process kept busy while timed
        others_cpu_share=others,  # share of the machine's CPU time used by other processes while timed
        mean_loss=mean_loss,
        params=impl.params,
        versions=impl.versions,
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,  # ru_maxrss is KiB on Linux
        **getattr(impl, "extra", {}),
    )
    if n_steps != args.steps:
        raise SystemExit(f"{tag} ran {n_steps} timed steps, expected {args.steps}")
    print(
        f"{tag} warm-up {warm_s:.1f}s · timed {timed_s:.1f}s · {result['chars_per_s']:,.0f} chars/s · "
        f"{result['ms_per_step']:.0f} ms/step (median {result['median_step_ms']:.0f}) · loss {mean_loss:.3f} · "
        f"peak RSS {result['peak_rss_mb']:.0f} MB · other processes {others:.0%} of the CPU",
        file=sys.stderr,
        flush=True,
    )
    print(RESULT_MARK + json.dumps(result), flush=True)


# ------------------------------------------------------------------------------------------------- driver
def machine_busy(seconds: float) -> float:
    """Share of the machine's CPU time that was busy over the next ``seconds`` (NaN without /proc/stat)."""
    t0, b0, _ = cpu_snapshot()
    time.sleep(seconds)
    t1, b1, _ = cpu_snapshot()
    return (b1 - b0) / ((t1 - t0) * (os.cpu_count() or 1))


def wait_until_idle(max_wait: float, log) -> float:
    """Wait (at most ``max_wait`` seconds) until other processes leave the CPU mostly idle; the seconds waited."""
    if max_wait <= 0:
        return 0.0
    t0 = time.perf_counter()
    busy = machine_busy(1.0)
    if not busy > 0.15:  # also true for NaN: no /proc/stat, nothing to wait for
        return 0.0
    print(f"  machine {busy:.0%} busy with other work; waiting up to {max_wait:.0f}s for it to calm down", file=log,
          flush=True)
    while time.perf_counter() - t0 < max_wait:
        busy = machine_busy(2.0)
        if busy <= 0.15:
            break
    return time.perf_counter() - t0


def run_one(args, backend, impl, log):
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", f"{backend}:{impl}", *args.passthrough]
    env = dict(os.environ, KERAS_BACKEND=backend)
    if impl == "generic":  # tangpoet without its backend fast paths (tangpoet/kernels): Keras' own layers
        env["TANGPOET_FAST_PATHS"] = "0"
    if args.devices and backend == "jax" and impl != "native":  # virtual CPU devices: before JAX starts
        env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={args.devices}".strip()
    if impl == "native":
        env.update(setting.split("=", 1) for setting in args.native_env)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    waited = wait_until_idle(args.wait_idle, log)
    t0 = time.perf_counter()
    try:  # the worker's stderr (progress, warnings) goes straight to ours
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {args.timeout}s"}
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_MARK):
            result = json.loads(line[len(RESULT_MARK) :])
            result["process_s"] = time.perf_counter() - t0
            result["waited_for_idle_s"] = waited
            return result
    tail = proc.stdout.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
    return {"error": f"worker failed ({tail[0][:200]}); see its stderr above"}


def _cell(res, key, spec):
    if not res:
        return "-"
    if "error" in res:
        return "error"
    return format(res[key], spec)


def format_table(rows):
    head = ["backend", "tangpoet chars/s", "native chars/s", "ratio", "paired ratio", "generic chars/s", "fast/generic",
            "tangpoet ms/step", "native ms/step", "peak RSS MB (tp / nat)", "others' CPU (tp / nat)"]
    lines = []
    for r in rows:
        if r.get("skipped"):
            lines.append([r["backend"], f"skipped: {r['skipped']}"])
            continue
        tp, nat = r.get("tangpoet"), r.get("native")
        lines.append([
            r["backend"],
            _cell(tp, "chars_per_s", ",.0f"),
            _cell(nat, "chars_per_s", ",.0f"),
            f"{r['ratio']:.2f}" if "ratio" in r else "-",
            f"{r['paired_ratio_median']:.2f}" if "paired_ratio_median" in r else "-",
            _cell(r.get("generic"), "chars_per_s", ",.0f"),
            f"{r['fast_over_generic']:.2f}" if "fast_over_generic" in r else "-",
            _cell(tp, "ms_per_step", ",.0f"),
            _cell(nat, "ms_per_step", ",.0f"),
            f"{_cell(tp, 'peak_rss_mb', ',.0f')} / {_cell(nat, 'peak_rss_mb', ',.0f')}",
            f"{_cell(tp, 'others_cpu_share', '.0%')} / {_cell(nat, 'others_cpu_share', '.0%')}",
        ])
    widths = [max([len(h)] + [len(l[i]) for l in lines if len(l) == len(head)]) for i, h in enumerate(head)]

    def join(cells):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    out = [join(head), "  ".join("-" * w for w in widths)]
    out += [join(l) if len(l) == len(head) else f"{l[0].ljust(widths[0])}  {l[1]}" for l in lines]
    return "\n".join(out)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--corpus", default=str(DEFAULT_CORPUS), help="corpus path (default: %(default)s)")
    p.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated (default: %(default)s)")
    p.add_argument("--impls", default=",".join(IMPLS), help="which of tangpoet,native to run (default: both)")
    p.add_argument("--steps", type=int, default=40, help="timed training steps (default: %(default)s)")
    p.add_argument("--warmup", type=int, default=10,
                   help="warm-up steps before timing, plus one per uncovered sequence length (default: %(default)s)")
    p.add_argument("--repeat", type=int, default=1,
                   help="run every measurement this many times (rounds interleaved) and keep the fastest")
    p.add_argument("--wait-idle", type=float, default=30.0,
                   help="before each run, wait up to this many seconds for other processes to leave the CPU idle "
                        "(0: don't wait; default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--units", type=int, default=256)
    p.add_argument("--embedding-dim", type=int, default=128)
    p.add_argument("--tie-embeddings", action="store_true",
                   help="tangpoet's tied output layer (as fit --tie-embeddings); tangpoet/generic only")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--clip-norm", type=float, default=5.0)
    p.add_argument("--val-split", type=float, default=0.05, help="held out as tangpoet fit does (default: 0.05)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=int, default=900, help="seconds allowed per worker process (default: 900)")
    p.add_argument("--devices", type=int, default=0,
                   help="tangpoet/generic data parallel over this many virtual CPU devices (jax, tensorflow); "
                        "0: off (default). On CPU it shows the distributed step's overhead, not a speed-up")
    p.add_argument("--native-env", action="append", default=[], metavar="KEY=VALUE",
                   help="an environment setting for the native loops only (repeatable), e.g. THP_MEM_ALLOC_ENABLE=1: "
                        "tangpoet sets that one for torch in its own process (tangpoet/backend.py), a plain script "
                        "does not")
    p.add_argument("--json", action="store_true", help="print JSON results on stdout (the table goes to stderr)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.devices < 0:
        p.error("--devices must not be negative")
    for setting in args.native_env:
        if "=" not in setting or not setting.split("=", 1)[0]:
            p.error(f"--native-env takes KEY=VALUE, got {setting!r}")
    if args.steps < 1 or args.warmup < 0 or args.repeat < 1:
        p.error("--steps and --repeat must be at least 1, --warmup at least 0")
    args.passthrough = [
        "--corpus", str(Path(args.corpus).resolve()), "--steps", str(args.steps), "--warmup", str(args.warmup),
        "--batch-size", str(args.batch_size), "--units", str(args.units), "--embedding-dim", str(args.embedding_dim),
        "--lr", repr(args.lr), "--clip-norm", repr(args.clip_norm), "--val-split", repr(args.val_split),
        "--seed", str(args.seed), *(["--tie-embeddings"] if args.tie_embeddings else []),
        "--devices", str(args.devices),
    ]
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    backends = [b.strip().lower() for b in args.backends.split(",") if b.strip()]
    backends = [{"tf": "tensorflow", "pytorch": "torch"}.get(b, b) for b in backends]
    impls = [i.strip().lower() for i in args.impls.split(",") if i.strip()]
    for name in backends:
        if name not in BACKENDS:
            raise SystemExit(f"unknown backend {name!r}: choose from {', '.join(BACKENDS)}")
    for name in impls:
        if name not in IMPLS:
            raise SystemExit(f"unknown implementation {name!r}: choose from {', '.join(IMPLS)}")
    if args.tie_embeddings and "native" in impls:
        raise SystemExit("--tie-embeddings: the native references have no tied output layer; pass --impls tangpoet,generic")
    if not Path(args.corpus).exists():
        raise SystemExit(f"corpus not found: {args.corpus} (pass --corpus PATH)")

    command = shlex.join([Path(sys.executable).name, *sys.argv])
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    header = [
        "tangpoet training throughput: real (non-pad) characters per second, tangpoet vs a native loop",
        f"command: {command}",
        f"date: {datetime.datetime.now().isoformat(timespec='seconds')} · python {platform.python_version()} · "
        f"{platform.platform()}",
        f"cores: {os.cpu_count()} ({usable} usable), threads not pinned · load average at start "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}",
        f"model: 1 x {args.units} LSTM, embedding {args.embedding_dim}{' tied to the output' if args.tie_embeddings else ''}, batch {args.batch_size}, Adam lr {args.lr:g} "
        f"global clip norm {args.clip_norm:g}, masked loss · corpus {args.corpus}",
        f"steps: {args.steps} timed, after {args.warmup} warm-up steps plus one per timed sequence length not yet "
        f"seen (compilation) · best of {args.repeat}",
        "environment: tangpoet's worker as tangpoet sets it up (torch: THP_MEM_ALLOC_ENABLE=1 unless set); the native "
        f"loops as given{' + ' + ' '.join(args.native_env) if args.native_env else ''}",
    ]
    if args.devices:
        header.append(
            f"devices: tangpoet/generic data parallel over {args.devices} virtual CPU device(s) sharing these cores "
            f"(the overhead of the distributed step, not a speed-up); native on one device"
        )
    log = sys.stderr
    print("\n".join(header), file=log, flush=True)

    started = time.perf_counter()
    installed = {b: importlib.util.find_spec(b) is not None for b in backends}
    runs = {(b, i): [] for b in backends for i in impls}
    for round_ in range(args.repeat):
        for backend in backends:
            if not installed[backend]:
                if round_ == 0:
                    print(f"[{backend}] skipped: not installed", file=log, flush=True)
                continue
            if args.devices and backend == "torch":
                installed[backend] = False  # shown as skipped: no data-parallel engine in Keras for torch
                print("[torch] skipped: --devices needs jax or tensorflow (fit --data-parallel)", file=log, flush=True)
                continue
            for impl in impls:
                result = run_one(args, backend, impl, log)
                if "error" in result:
                    print(f"[{backend}/{impl}] {result['error']}", file=log, flush=True)
                runs[backend, impl].append(result)

    rows = []
    for backend in backends:
        row = {"backend": backend}
        if not installed[backend]:
            row["skipped"] = "no data parallel on torch" if args.devices and backend == "torch" else "not installed"
            rows.append(row)
            continue
        for impl in impls:
            good = [r for r in runs[backend, impl] if "chars_per_s" in r]
            best = max(good, key=lambda r: r["chars_per_s"]) if good else runs[backend, impl][-1]
            best["all_chars_per_s"] = [round(r["chars_per_s"], 1) for r in good]
            row[impl] = best
        tp, nat = row.get("tangpoet", {}), row.get("native", {})
        if "chars_per_s" in tp and "chars_per_s" in nat:
            row["ratio"] = tp["chars_per_s"] / nat["chars_per_s"]
            # Paired: round k's tangpoet run against round k's native run (they ran one after the other, so a load
            # change hits both); the median over rounds is steadier than the ratio of two best runs.
            paired = [t["chars_per_s"] / n["chars_per_s"]
                      for t, n in zip(runs[backend, "tangpoet"], runs[backend, "native"])
                      if "chars_per_s" in t and "chars_per_s" in n]
            row["paired_ratios"] = [round(x, 3) for x in paired]
            row["paired_ratio_median"] = statistics.median(paired)
        gen = row.get("generic", {})
        if "chars_per_s" in tp and "chars_per_s" in gen:
            row["fast_over_generic"] = tp["chars_per_s"] / gen["chars_per_s"]
        rows.append(row)

    footer = []
    sample = next((r[i] for r in rows for i in impls if "chars_per_s" in r.get(i, {})), None)
    if sample:
        footer.append(
            f"data: {sample['train_poems']:,} training poems, vocabulary {sample['vocab']:,}, "
            f"{sample['batches_per_epoch']} batches/epoch; the {args.steps} timed batches hold "
            f"{sample['timed_real_tokens']:,} real of {sample['timed_padded_tokens']:,} computed tokens "
            f"({1 - sample['timed_real_tokens'] / sample['timed_padded_tokens']:.1%} padding), padded lengths "
            f"{sample['timed_lengths']}; warm-up {sample['warmup_steps']} steps"
        )
    versions = {}
    for r in rows:
        for impl in impls:
            res = r.get(impl) or {}
            versions.update(res.get("versions", {}))
            if "chars_per_s" in res:
                spread = "" if len(res["all_chars_per_s"]) < 2 else f" · all runs {res['all_chars_per_s']} chars/s"
                footer.append(
                    f"{r['backend']}/{impl}: step median {res['median_step_ms']:,.0f} ms, max {res['max_step_ms']:,.0f} ms "
                    f"· warm-up {res['warmup_s']:.1f}s · own CPU {res['own_cpu_cores']:.2f} cores · mean loss "
                    f"{res['mean_loss']:.3f} · {res['params']:,} params · process {res['process_s']:.0f}s{spread}"
                )
    for r in rows:
        if len(r.get("paired_ratios", [])) > 1:
            footer.append(f"{r['backend']}: tangpoet / native per round {r['paired_ratios']} (paired ratio: their median)")
    if versions:
        footer.append("versions: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
    busy = [res.get("others_cpu_share", 0) for r in rows for i in impls if "chars_per_s" in (res := r.get(i) or {})]
    if busy and max(busy) > 0.05:
        footer.append("warning: other processes used the CPU during some timed runs (others' CPU column); "
                      "those numbers are pessimistic: rerun on a quiet machine or with --repeat")
    footer.append(f"total wall time {time.perf_counter() - started:.0f}s")
    text = "\n".join(["", *header, "", format_table(rows), "", *footer])
    if args.json:
        print(text, file=log, flush=True)
        settings = {k: v for k, v in vars(args).items() if k not in ("passthrough", "worker", "json")}
        print(json.dumps({"command": command, "cores": os.cpu_count(), "settings": settings, "results": rows},
                         indent=2, ensure_ascii=False))
    else:
        print(text, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
