"""Regenerate the golden model files under tests/golden/<backend>/<cell>.{keras,npz}.

Run from anywhere:  /work/venv/bin/python tests/golden/regenerate.py

For each backend (jax, tensorflow, torch) a subprocess with ``KERAS_BACKEND`` set builds one tiny model per cell
(rnn, lstm, gru), saves it with :func:`tangpoet.model.poem_model.save_model` and writes the fixed input batch, the logits and
the expected vocabulary / hyper-parameters / metadata beside it. Afterwards every file is loaded on every backend
and the largest logit difference is printed (``--no-check`` skips that).

Regenerating changes what tests/test_golden.py expects: only do it when the file format changes on purpose.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BACKENDS = ("jax", "tensorflow", "torch")
CELLS = ("rnn", "lstm", "gru")
# A fixed seed per (backend, cell): 1000 * backend number + 10 * cell number + 7.
SEEDS = {(b, c): 1000 * (i + 1) + 10 * (j + 1) + 7 for i, b in enumerate(BACKENDS) for j, c in enumerate(CELLS)}

LINES = (
    "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。",
    "床前明月光，疑是地上霜。举头望明月，低头思故乡。",
)
# Inputs: <bos> + the first characters of each text; the last row is short and right-padded with <pad>=0.
INPUT_TEXTS = ("春眠不觉晓，处处闻啼鸟。", "床前明月光，疑是地上霜。", "花落知多少。")
TIME = 12
HYPERPARAMETERS = dict(num_layers=2, units=8, embedding_dim=6, dropout=0.1)


def worker(backend: str) -> None:
    os.environ["KERAS_BACKEND"] = backend
    sys.path.insert(0, str(ROOT))
    import numpy as np

    import keras

    from tangpoet.model.poem_model import build_model, save_model
    from tangpoet.data.vocab import Vocabulary

    assert keras.backend.backend() == backend, (keras.backend.backend(), backend)
    vocab = Vocabulary.build(LINES)
    rows = []
    for text in INPUT_TEXTS:
        ids = vocab.encode(text, bos=True, strict=True)[:TIME]
        rows.append(np.pad(ids, (0, TIME - len(ids))))
    inputs = np.stack(rows).astype(np.int32)
    assert inputs.shape == (3, TIME) and (inputs[:, 0] == 2).all() and inputs[-1, -1] == 0

    out = HERE / backend
    out.mkdir(parents=True, exist_ok=True)
    for cell in CELLS:
        seed = SEEDS[(backend, cell)]
        metadata = {
            "golden": True,
            "backend": backend,
            "cell": cell,
            "seed": seed,
            "title": "春晓",  # non-ASCII must survive the round trip
            "corpus": {"lines": len(LINES), "chars": sum(map(len, LINES)), "sources": ["golden", "fixed"]},
        }
        keras.utils.set_random_seed(seed)
        model = build_model(vocab, cell=cell, metadata=metadata, **HYPERPARAMETERS)
        logits = keras.ops.convert_to_numpy(model(inputs)).astype(np.float32)
        assert logits.shape == (3, TIME, len(vocab)) and np.isfinite(logits).all()
        save_model(model, out / f"{cell}.keras")
        expected = {
            "cell": cell,
            "keras_version": keras.__version__,
            "hyperparameters": model.hyperparameters(),
            "metadata": metadata,
        }
        np.savez_compressed(
            out / f"{cell}.npz",
            inputs=inputs,
            logits=logits,
            vocabulary=np.array(vocab.to_config()),
            expected_json=np.array(json.dumps(expected, ensure_ascii=False, sort_keys=True)),
        )
        print(f"{backend}/{cell}: seed {seed}, vocab {len(vocab)}, logits {logits.shape}")


def check(backend: str) -> None:
    """Load every golden file on ``backend``; print the max |logit - expected| per file as JSON lines."""
    os.environ["KERAS_BACKEND"] = backend
    sys.path.insert(0, str(ROOT))
    import numpy as np

    import keras

    from tangpoet.model.poem_model import load_model

    for path in sorted(HERE.glob("*/*.keras")):
        data = np.load(path.with_suffix(".npz"))
        model = load_model(path)
        logits = keras.ops.convert_to_numpy(model(data["inputs"]))
        diff = float(np.max(np.abs(logits - data["logits"])))
        print(json.dumps({"file": f"{path.parent.name}/{path.stem}", "loaded_on": backend, "max_abs_diff": diff}))


def run(mode: str, backend: str) -> str:
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), f"--{mode}", backend],
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"{mode} on {backend} failed (exit {result.returncode})")
    return result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--check", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--no-check", action="store_true", help="skip loading every file on every backend")
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker)
    if args.check:
        return check(args.check)
    for backend in args.backends:
        print(run("worker", backend), end="")
    if args.no_check:
        return
    worst: dict[str, float] = {}
    for backend in BACKENDS:
        for line in run("check", backend).splitlines():
            if not line.startswith("{"):
                continue
            row = json.loads(line)
            print(f"  {row['file']:>16} loaded on {row['loaded_on']:<10} max |diff| = {row['max_abs_diff']:.3g}")
            cell = row["file"].split("/")[1]
            worst[cell] = max(worst.get(cell, 0.0), row["max_abs_diff"])
    for cell, diff in worst.items():
        print(f"worst across backends, {cell}: {diff:.3g}")


if __name__ == "__main__":
    main()
