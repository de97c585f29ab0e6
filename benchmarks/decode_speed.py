#!/usr/bin/env python
"""Decoding speed: the step decoder against re-running the whole prefix at every character, per backend.

For every backend (``--backends``, default: all installed; each in its own fresh subprocess) a model of the default
size — 2 × 256 LSTM, embedding 128, a vocabulary of ~6000 characters, random weights from ``build_model`` — writes
七言律诗 (8 lines × 7 characters + punctuation = 64 characters, then ``<eos>``) under the form constraint, so every
poem has exactly 64 characters. Methods:

* **step greedy** / **step beam-5** — tangpoet's :class:`~tangpoet.decoding.stepper.StepDecoder` driven by the
  ``greedy`` and ``beam`` (width 5, the five beams stepped as one batch) decoders: the prompt once through the
  whole-sequence layers, then one compiled step per character (``tangpoet/kernels/compiled_step.py``; with
  ``TANGPOET_FAST_PATHS=0``, ``predict_on_batch``);
* **step greedy (generic)** — the same with the fast paths off (``TANGPOET_FAST_PATHS=0``): each step through
  Keras' ``predict_on_batch``;
* **raw step x64** — the raw compute of a poem: one model step (the step decoder's own compiled step model) called
  64 times in a tight loop on device-resident tensors, compiled the backend's way (``jax.jit``, ``tf.function``,
  ``torch.inference_mode``), the state fed back without a host round trip; batch 1 (greedy) and 5 (beam-5);
* **re-run greedy (eager)** — what the seed PyTorch report does: at every character the whole prefix
  ``<bos> c1 … c(t-1)`` goes through the full model (``model(tokens)``, eager), the last position's logits are
  log-softmaxed, masked by the same constraint chain and the argmax taken;
* **re-run greedy (compiled)** — the same, but through a compiled ``predict_on_batch`` whose 64 prefix lengths were
  all traced/compiled in a warm-up poem first (on torch ``predict_on_batch`` is eager too). It shows the O(n²)
  cost of re-running without eager overheads.

Reported: ms per poem and characters per second (the median of ``--poems`` poems after one warm-up poem; one poem
for the re-runs), the time per character at positions 8, 32 and 64 (the time from one character to the next:
constraint masks, choice and model), and the ratios. Threads are not pinned unless ``--threads`` is given.

    python benchmarks/decode_speed.py
    python benchmarks/decode_speed.py --backends torch --threads 1 --poems 5
    python benchmarks/decode_speed.py --json > decode.json   # JSON on stdout, the table on stderr
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BACKENDS = ("jax", "tensorflow", "torch")
RESULT_MARK = "@@decode_speed@@ "
POSITIONS = (8, 32, 64)
FORM = "七言律诗"


def set_threads(backend: str, threads: int | None) -> None:
    """Pin intra-op threads before the backend is imported (the worker's environment)."""
    if not threads:
        return
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["MKL_NUM_THREADS"] = str(threads)
    if backend == "jax" and threads == 1:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()


class TimedStepper:
    """Wraps a StepDecoder; records when each ``prime``/``step`` returns (one timestamp per character)."""

    def __init__(self, stepper):
        self.stepper = stepper
        self.vocab = stepper.vocab
        self.stamps: list[float] = []

    def prime(self, prefix, batch=1):
        self.stamps = [time.perf_counter()]
        out = self.stepper.prime(prefix, batch)
        self.stamps.append(time.perf_counter())
        return out

    def step(self, tokens, state):
        out = self.stepper.step(tokens, state)
        self.stamps.append(time.perf_counter())
        return out

    def reorder(self, state, indices):
        return self.stepper.reorder(state, indices)

    def run_rollout(self, rollout):
        rollout.run(self)  # stepped here, so each step is timed

    def per_char_ms(self) -> list[float]:
        """Entry p-1: ms from character p-1 to character p (entry 0 includes the prompt prefill)."""
        return [(b - a) * 1e3 for a, b in zip(self.stamps, self.stamps[1:])]


def worker(args) -> dict:
    import numpy as np

    from tangpoet.backend import ensure_backend

    backend = ensure_backend()
    import keras

    if args.threads and backend == "torch":
        import torch

        torch.set_num_threads(args.threads)
    if args.threads and backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    from tangpoet.decoding import get_decoder
    from tangpoet.decoding.constraints import build_constraints
    from tangpoet.decoding.stepper import StepDecoder
    from tangpoet.model.poem_model import build_model
    from tangpoet.data.vocab import BOS_ID, EOS_ID, SPECIALS, Vocabulary

    chars = ["，", "。"] + [chr(0x4E00 + i) for i in range(args.vocab - len(SPECIALS) - 2)]
    vocab = Vocabulary(list(SPECIALS) + chars)
    keras.utils.set_random_seed(0)
    model = build_model(vocab, cell="lstm", num_layers=2, units=256, embedding_dim=128)
    constraints = build_constraints(vocab, form=FORM)
    assert constraints.max_len == 64
    rows = []

    def step_method(label, decoder):
        stepper = TimedStepper(StepDecoder.of(model))
        times, per_char = [], []
        poem = None
        for i in range(args.poems + 1):  # poem 0 is the warm-up (compilation)
            rng = np.random.default_rng(i)
            start = time.perf_counter()
            poems = decoder.decode(stepper, constraints.prompt, constraints.chain, constraints.max_len, rng, num=1)
            elapsed = time.perf_counter() - start
            assert len(poems[0].tokens) == 64 and poems[0].finished, poems[0].text
            if i:
                times.append(elapsed)
                per_char.append(stepper.per_char_ms())
                poem = poems[0].tokens
        per_char = np.median(np.asarray(per_char), axis=0)
        rows.append(summary(label, statistics.median(times), per_char))
        return poem

    class _LastLogProbs(keras.Model):
        def __init__(self, inner, **kwargs):
            super().__init__(**kwargs)
            self.inner = inner

        def call(self, tokens):
            return keras.ops.log_softmax(self.inner(tokens, training=False)[:, -1, :], axis=-1)

    compiled = _LastLogProbs(model, name="last_log_probs")

    def rerun(label, forward, warmup: bool):
        poem = None
        for i in range(2 if warmup else 1):
            tokens = [BOS_ID]
            stamps = [time.perf_counter()]
            while True:
                log_probs = forward(np.asarray([tokens], dtype=np.int32))
                history = np.asarray([tokens[1:]], dtype=np.int64)
                token = int(np.argmax(constraints.chain(history, log_probs)[0]))
                stamps.append(time.perf_counter())
                if token == EOS_ID:
                    break
                tokens.append(token)
            poem = tuple(tokens[1:])
        assert len(poem) == 64
        per_char = [(b - a) * 1e3 for a, b in zip(stamps, stamps[1:])]
        rows.append(summary(label, stamps[-1] - stamps[0], per_char))
        return poem

    def eager(tokens):
        last = model(tokens, training=False)[:, -1, :]
        return np.asarray(keras.ops.convert_to_numpy(keras.ops.log_softmax(last, axis=-1)), dtype=np.float32)

    def raw_step(label, batch):
        """One model step (embedding → cells → head → log-softmax) in a tight loop on device-resident tensors,
        compiled the backend's way (jax.jit / tf.function / torch.inference_mode), state fed back, no host round trip:
        the raw compute a 64-character poem needs is 64 of these."""
        stepper = StepDecoder.of(model)
        one = stepper._one_step
        tokens = np.full(batch, 10, dtype=np.int32)
        packed = np.zeros((batch, sum(stepper._flat_sizes)), dtype=np.float32)
        one.predict_on_batch([tokens, packed])  # builds it
        if backend == "jax":
            import jax

            values = [v.value for v in one.trainable_variables], [v.value for v in one.non_trainable_variables]
            fn = jax.jit(lambda tv, ntv, t, p: one.stateless_call(tv, ntv, [t, p])[0])

            def run(t, p):
                return fn(values[0], values[1], t, p)

            t, p = jax.numpy.asarray(tokens), jax.numpy.asarray(packed)
            block = lambda out: out[1].block_until_ready()  # noqa: E731
        elif backend == "tensorflow":
            import tensorflow as tf

            run = tf.function(lambda t, p: one([t, p]))
            t, p = tf.constant(tokens), tf.constant(packed)
            block = lambda out: out[1].numpy()  # noqa: E731
        else:
            import torch

            def run(t, p):
                with torch.inference_mode():
                    return one.call([t, p])

            t, p = keras.ops.convert_to_tensor(tokens), keras.ops.convert_to_tensor(packed)
            block = lambda out: None  # noqa: E731  (CPU torch ops are synchronous)
        out = run(t, p)  # compile
        block(out)
        times = []
        for _ in range(args.poems):
            start = time.perf_counter()
            state = p
            for _ in range(64):
                out = run(t, state)
                state = out[1]
            block(out)
            times.append(time.perf_counter() - start)
        rows.append(summary(label, statistics.median(times), [statistics.median(times) * 1e3 / 64] * 64))

    raw_step("raw step x64 (batch 1)", 1)
    raw_step("raw step x64 (batch 5)", 5)
    greedy_poem = step_method("step greedy", get_decoder("greedy"))
    step_method("step beam-5", get_decoder("beam", beam_width=5))
    from tangpoet.kernels import use_fast_paths

    with use_fast_paths(False):  # the generic step: Keras' predict_on_batch instead of the compiled step
        step_method("step greedy (generic)", get_decoder("greedy"))
    same = {}
    if not args.skip_rerun:
        same["eager"] = rerun("re-run greedy (eager)", eager, warmup=False) == greedy_poem
        if not args.skip_compiled_rerun:
            same["compiled"] = (
                rerun("re-run greedy (compiled)", lambda t: np.asarray(compiled.predict_on_batch(t)), warmup=True)
                == greedy_poem
            )
    return {
        "backend": backend,
        "keras": keras.__version__,
        "vocab": len(vocab),
        "threads": args.threads,
        "rows": rows,
        "same_poem_as_step_greedy": same,
    }


def summary(label: str, seconds: float, per_char) -> dict:
    return {
        "method": label,
        "ms_per_poem": seconds * 1e3,
        "chars_per_s": 64 / seconds,
        "ms_per_char_at": {str(p): float(per_char[p - 1]) for p in POSITIONS},
    }


def run_backend(backend: str, args) -> dict:
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", "--backends", backend,
               "--poems", str(args.poems), "--vocab", str(args.vocab)]
    if args.threads:
        command += ["--threads", str(args.threads)]
    if args.skip_rerun:
        command.append("--skip-rerun")
    if args.skip_compiled_rerun:
        command.append("--skip-compiled-rerun")
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=REPO)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        return {"backend": backend, "error": f"exit {result.returncode}"}
    line = next(line for line in result.stdout.splitlines() if line.startswith(RESULT_MARK))
    out = json.loads(line[len(RESULT_MARK) :])
    out["wall_s"] = time.perf_counter() - started
    return out


def table(results: list[dict]) -> str:
    head = f"{'backend':<11}{'method':<26}{'ms/poem':>10}{'chars/s':>10}" + "".join(
        f"{'ms/char@' + str(p):>13}" for p in POSITIONS
    )
    lines = [head, "-" * len(head)]
    verdicts = []
    for r in results:
        if "error" in r:
            lines.append(f"{r['backend']:<11}{'failed: ' + r['error']}")
            continue
        by = {row["method"]: row for row in r["rows"]}
        for row in r["rows"]:
            lines.append(
                f"{r['backend']:<11}{row['method']:<26}{row['ms_per_poem']:>10.1f}{row['chars_per_s']:>10.1f}"
                + "".join(f"{row['ms_per_char_at'][str(p)]:>13.2f}" for p in POSITIONS)
            )
        greedy, beam = by["step greedy"], by["step beam-5"]
        ratio_beam = beam["ms_per_poem"] / greedy["ms_per_poem"]
        raw1, raw5 = by["raw step x64 (batch 1)"], by["raw step x64 (batch 5)"]
        over = greedy["ms_per_poem"] / raw1["ms_per_poem"]
        parts = [
            f"greedy / raw compute = {over:.2f}x ({'ok' if over <= 2 else 'MISSES'} <= 2x)",
            f"beam-5 / raw batch-5 compute = {beam['ms_per_poem'] / raw5['ms_per_poem']:.2f}x",
            f"beam-5 / greedy = {ratio_beam:.2f}x ({'ok' if ratio_beam <= 2 else 'MISSES'} <= 2x)",
        ]
        if "step greedy (generic)" in by:
            parts.append(f"compiled step vs generic predict_on_batch: "
                         f"{by['step greedy (generic)']['ms_per_poem'] / greedy['ms_per_poem']:.2f}x faster")
        for key in ("re-run greedy (eager)", "re-run greedy (compiled)"):
            if key in by:
                speedup = by[key]["ms_per_poem"] / greedy["ms_per_poem"]
                parts.append(f"step greedy vs {key}: {speedup:.1f}x ({'ok' if speedup >= 10 else 'MISSES'} >= 10x)")
        same = ", ".join(f"{k}: {'same' if v else 'DIFFERENT'}" for k, v in r["same_poem_as_step_greedy"].items())
        verdicts.append(f"{r['backend']}: " + "; ".join(parts) + (f"; re-run poem vs step greedy — {same}" if same else ""))
    return "\n".join(lines + [""] + verdicts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=None)
    parser.add_argument("--poems", type=int, default=3, help="timed poems per step method (after one warm-up)")
    parser.add_argument("--vocab", type=int, default=6000, help="vocabulary size (specials included)")
    parser.add_argument("--threads", type=int, default=None, help="pin intra-op threads (default: not pinned)")
    parser.add_argument("--skip-rerun", action="store_true", help="only the step decoder")
    parser.add_argument("--skip-compiled-rerun", action="store_true", help="skip the compiled re-run baseline")
    parser.add_argument("--json", action="store_true", help="JSON on stdout, the table on stderr")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        backend = args.backends[0]
        set_threads(backend, args.threads)
        sys.path.insert(0, str(REPO))
        os.environ["KERAS_BACKEND"] = backend
        print(RESULT_MARK + json.dumps(worker(args)), flush=True)
        return
    backends = args.backends or [b for b in BACKENDS if importlib.util.find_spec(b) is not None]
    results = []
    for backend in backends:
        print(f"running {backend} …", file=sys.stderr, flush=True)
        results.append(run_backend(backend, args))
    text = table(results)
    header = (
        f"decode speed — {FORM} (64 characters), LSTM 2×256, embedding 128, vocab {args.vocab}, random weights; "
        f"{platform.machine()} {os.cpu_count()} CPUs; threads {'pinned to ' + str(args.threads) if args.threads else 'not pinned'}"
    )
    if args.json:
        print(json.dumps({"header": header, "results": results}, ensure_ascii=False, indent=1))
        print(header + "\n" + text, file=sys.stderr)
    else:
        print(header + "\n" + text)


if __name__ == "__main__":
    main()
